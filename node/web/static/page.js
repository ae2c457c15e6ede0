// What every page shares: the language (Persian by default, English by the switch), words, numbers and dates
// in it, signed text inserted inert, and reading the node's public JSON routes. A classic script: it defines
// globalThis.shora.page. Needs calendar.js and i18n.js loaded first.
(() => {
  const { calendar, words } = globalThis.shora;
  const STORE = "shora.lang";
  const renderers = [];
  let lang = "fa";
  try {
    const asked = new URLSearchParams(location.search).get("lang") || localStorage.getItem(STORE);
    if (asked === "en" || asked === "fa") lang = asked;
  } catch (e) {
    // storage refused (a private window, file://): Persian
  }

  function t(key) {
    const found = words[lang][key];
    return found === undefined ? key : found;
  }

  // A number in the page's language: Persian digits in Persian.
  function num(n) {
    return lang === "fa" ? calendar.persianDigits(String(n)) : String(n);
  }

  // "1405/09/14 · 2026-12-05": the Solar Hijri date beside the Gregorian, of a moment's UTC day.
  function date(ms) {
    let both;
    try {
      both = calendar.bothDates(ms);
    } catch (e) {
      // a moment beyond the Solar Hijri table (a deadline in the year 37648): its Gregorian day alone, or
      // the number as the node gave it — one odd date must not leave the whole page unread
      const d = new Date(ms);
      const day = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()].map((n) => String(n).padStart(2, "0"));
      return num(Number.isNaN(d.getTime()) ? String(ms) : day.join("-"));
    }
    return lang === "fa" ? `${both.jalali} (${both.gregorian})` : `${both.gregorian} (${both.jalali})`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }

  // Directional formatting characters of signed text: shown as their code points, so they cannot reorder what
  // surrounds them or disguise the text; the text is isolated (<bdi>) from the page's own direction.
  const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

  function signedText(text) {
    const out = el("bdi", { class: "signed", dir: "auto" });
    let last = 0;
    for (const m of String(text).matchAll(BIDI)) {
      out.append(document.createTextNode(String(text).slice(last, m.index)));
      const code = m[0].codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
      out.append(el("span", { class: "control", title: "directional formatting character" }, `U+${code}`));
      last = m.index + m[0].length;
    }
    out.append(document.createTextNode(String(text).slice(last)));
    return out;
  }

  // A decision's tally as JSON gives it (ids as base64url): yes/no/abstain, or an election's approvals.
  function tally(tl) {
    if (tl && Array.isArray(tl.approvals)) {
      const each = tl.approvals.map(([id, n]) => `${String(id).slice(0, 10)} ${num(n)}`).join(" · ");
      return `${t("tally.ballots")} ${num(tl.ballots)} — ${t("tally.approvals")}: ${each}`;
    }
    if (!tl || typeof tl !== "object" || !("yes" in tl)) return t("tally.hidden");
    return ["yes", "no", "abstain"].map((k) => `${t(`tally.${k}`)} ${num(tl[k])}`).join(" · ");
  }

  function translate() {
    document.documentElement.lang = lang;
    document.documentElement.dir = lang === "fa" ? "rtl" : "ltr";
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    for (const node of document.querySelectorAll("[data-t-label]")) node.setAttribute("aria-label", t(node.dataset.tLabel));
  }

  function render() {
    translate();
    for (const f of renderers) f();
  }

  function onRender(f) {
    renderers.push(f);
    f();
  }

  function setLang(next) {
    lang = next;
    try {
      localStorage.setItem(STORE, lang);
    } catch (e) {
      // not kept: the switch still works for this page
    }
    render();
  }

  // The node's answer to a GET, or an Error saying its refusal ("404 not-found: ...").
  async function get(path, accept) {
    const response = await fetch(path, { headers: { Accept: accept }, credentials: "omit" });
    if (!response.ok) {
      let message = `${response.status}`;
      try {
        const err = await response.json();
        message = `${response.status} ${err.error}: ${err.message}`;
      } catch (e) {
        // not the error shape: the status says it
      }
      throw new Error(message);
    }
    return response;
  }

  async function getJson(path) {
    return (await get(path, "application/json")).json();
  }

  function clear(node) {
    while (node.firstChild) node.firstChild.remove();
    return node;
  }

  function start() {
    const button = document.getElementById("lang");
    if (button) button.addEventListener("click", () => setLang(lang === "fa" ? "en" : "fa"));
    translate();
  }

  // A page's life: once the document is parsed, the switch works; what load() reads is shown by show(data)
  // in each language; body[data-ready] says "true" once shown, or "error" with the refusal in the alert.
  function boot(load, show) {
    document.addEventListener("DOMContentLoaded", async () => {
      start();
      try {
        const data = await load();
        onRender(() => show(data));
        document.body.dataset.ready = "true";
      } catch (e) {
        const error = document.getElementById("error");
        error.hidden = false;
        error.textContent = `${t("error.load")} ${e.message}`;
        document.body.dataset.ready = "error";
      }
    });
  }

  globalThis.shora.page = {
    t, num, date, el, signedText, tally, get, getJson, clear, onRender, start, boot,
    get lang() { return lang; },
  };
})();
