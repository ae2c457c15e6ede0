// Dates as the council pages show them: the Solar Hijri (Jalali) date beside the Gregorian, and Persian digits.
// The arithmetic is Borkowski's (the 33-year cycles between the break years of the astronomical calendar),
// exact for Jalali years -61 to 3177; tests/web/test_calendar.py checks it against known dates.
// A classic script, not a module: a page saved to disk loads it from file://, where Chromium refuses modules.
// It defines globalThis.shora.calendar = {toJalali, persianDigits, bothDates}.
(() => {

const BREAKS = [-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210, 1635, 2060, 2097, 2192, 2262, 2324,
  2394, 2456, 3178];

const div = (a, b) => Math.trunc(a / b);
const mod = (a, b) => a - Math.trunc(a / b) * b;

// For Jalali year jy: whether it is leap (0 = leap), its Gregorian year and the March day of its Nowruz.
function jalCal(jy) {
  if (jy < BREAKS[0] || jy >= BREAKS[BREAKS.length - 1]) throw new RangeError(`Jalali year ${jy} out of range`);
  const gy = jy + 621;
  let leapJ = -14;
  let jp = BREAKS[0];
  let jump = 0;
  for (let i = 1; i < BREAKS.length; i += 1) {
    const jm = BREAKS[i];
    jump = jm - jp;
    if (jy < jm) break;
    leapJ += div(jump, 33) * 8 + div(mod(jump, 33), 4);
    jp = jm;
  }
  let n = jy - jp;
  leapJ += div(n, 33) * 8 + div(mod(n, 33) + 3, 4);
  if (mod(jump, 33) === 4 && jump - n === 4) leapJ += 1;
  const leapG = div(gy, 4) - div((div(gy, 100) + 1) * 3, 4) - 150;
  const march = 20 + leapJ - leapG;
  if (jump - n < 6) n = n - jump + div(jump + 4, 33) * 33;
  let leap = mod(mod(n + 1, 33) - 1, 4);
  if (leap === -1) leap = 4;
  return { leap, gy, march };
}

// Julian day number of a Gregorian date, and back.
function g2d(gy, gm, gd) {
  const d = div((gy + div(gm - 8, 6) + 100100) * 1461, 4) + div(153 * mod(gm + 9, 12) + 2, 5) + gd - 34840408;
  return d - div(div(gy + 100100 + div(gm - 8, 6), 100) * 3, 4) + 752;
}

function d2g(jdn) {
  let j = 4 * jdn + 139361631;
  j += div(div(4 * jdn + 183187720, 146097) * 3, 4) * 4 - 3908;
  const i = div(mod(j, 1461), 4) * 5 + 308;
  const gd = div(mod(i, 153), 5) + 1;
  const gm = mod(div(i, 153), 12) + 1;
  const gy = div(j, 1461) - 100100 + div(8 - gm, 6);
  return { gy, gm, gd };
}

// The Jalali date {jy, jm, jd} of a Gregorian date (month 1-12).
function toJalali(gy, gm, gd) {
  const jdn = g2d(gy, gm, gd);
  let jy = d2g(jdn).gy - 621;
  const r = jalCal(jy);
  let k = jdn - g2d(r.gy, 3, r.march);
  if (k >= 0) {
    if (k <= 185) return { jy, jm: 1 + div(k, 31), jd: mod(k, 31) + 1 };
    k -= 186;
  } else {
    jy -= 1;
    k += 179;
    if (r.leap === 1) k += 1;
  }
  return { jy, jm: 7 + div(k, 30), jd: mod(k, 30) + 1 };
}

// written as escapes: a classic script served without a charset is not read as UTF-8
const PERSIAN_DIGITS = "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9";

// Every ASCII digit of the text written as a Persian digit; nothing else changes.
function persianDigits(text) {
  return String(text).replace(/[0-9]/g, (d) => PERSIAN_DIGITS[Number(d)]);
}

const pad = (n) => String(n).padStart(2, "0");

// A moment (milliseconds since the epoch) as "YYYY/MM/DD" Jalali in Persian digits and "YYYY-MM-DD"
// Gregorian, both of the UTC day.
function bothDates(ms) {
  const t = new Date(ms);
  const gy = t.getUTCFullYear();
  const gm = t.getUTCMonth() + 1;
  const gd = t.getUTCDate();
  const j = toJalali(gy, gm, gd);
  return {
    jalali: persianDigits(`${j.jy}/${pad(j.jm)}/${pad(j.jd)}`),
    gregorian: `${gy}-${pad(gm)}-${pad(gd)}`,
  };
}

globalThis.shora = globalThis.shora || {};
globalThis.shora.calendar = { toJalali, persianDigits, bothDates };
})();
