// Canonical msgpack, as protocol/codec.py: a decoder that accepts exactly the bytes the canonical encoder
// writes. Maps decode as Map (keys text, sorted by their UTF-8 bytes, none twice), bin as Uint8Array,
// integers as numbers (BigInt beyond 2^53), text checked NFC and of code points assigned in the pinned
// Unicode version (assigned.js). The decoded value is encoded again and must give the same bytes, which
// rules out every non-minimal form. A classic script: globalThis.shora.msgpack = {decode, encode, Limits}.
(() => {
  const { assigned } = globalThis.shora;
  const INT64_MIN = -(2n ** 63n);
  const INT64_MAX = 2n ** 63n - 1n;

  class DecodeError extends Error {}

  function isAssigned(cp) {
    const r = assigned.ranges;
    let lo = 0;
    let hi = r.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (cp < r[mid][0]) hi = mid - 1;
      else if (cp > r[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  // protocol.codec.check_text: only assigned code points, NFC.
  function checkText(text, what) {
    for (const ch of text) {
      const cp = ch.codePointAt(0);
      if (!isAssigned(cp)) {
        throw new DecodeError(`${what} holds U+${cp.toString(16).toUpperCase().padStart(4, "0")}, not assigned in Unicode ${assigned.version}`);
      }
    }
    if (text.normalize("NFC") !== text) throw new DecodeError(`${what} is not NFC-normalised`);
  }

  const utf8 = new TextEncoder();
  const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

  function compareBytes(a, b) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i += 1) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  }

  function decode(data, limits) {
    if (!(data instanceof Uint8Array)) throw new DecodeError("input is not bytes");
    if (data.length > limits.maxSize) throw new DecodeError(`input of ${data.length} bytes exceeds the limit of ${limits.maxSize}`);
    if (data.length === 0) throw new DecodeError("empty input");
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = 0;

    function need(n) {
      if (pos + n > data.length) throw new DecodeError("malformed msgpack: truncated");
    }
    function u8() { need(1); return data[pos++]; }
    function u16() { need(2); const v = view.getUint16(pos); pos += 2; return v; }
    function u32() { need(4); const v = view.getUint32(pos); pos += 4; return v; }
    function int(big) {
      if (big >= -(2n ** 53n) + 1n && big <= 2n ** 53n - 1n) return Number(big);
      return big;
    }
    function length(n) {
      if (n > limits.maxLength) throw new DecodeError(`a length of ${n} exceeds the limit of ${limits.maxLength}`);
      return n;
    }
    function bytes(n) {
      need(length(n));
      const out = data.slice(pos, pos + n);
      pos += n;
      return out;
    }
    function text(n) {
      const raw = bytes(n);
      let s;
      try {
        s = strictUtf8.decode(raw);
      } catch (e) {
        throw new DecodeError("malformed msgpack: text is not UTF-8");
      }
      checkText(s, "text");
      return s;
    }
    function container(n, depth) {
      if (n > 0 && depth >= limits.maxDepth) throw new DecodeError(`nesting deeper than ${limits.maxDepth}`);
    }
    function array(n, depth) {
      container(length(n), depth);
      const out = [];
      for (let i = 0; i < n; i += 1) out.push(value(depth + 1));
      return out;
    }
    function map(n, depth) {
      container(length(n), depth);
      const out = new Map();
      let previous = null;
      for (let i = 0; i < n; i += 1) {
        const key = value(depth + 1);
        if (typeof key !== "string") throw new DecodeError("map keys must be text");
        if (out.has(key)) throw new DecodeError("duplicate map key");
        const encoded = utf8.encode(key);
        if (previous !== null && compareBytes(previous, encoded) >= 0) throw new DecodeError("map keys are not sorted");
        previous = encoded;
        out.set(key, value(depth + 1));
      }
      return out;
    }
    function value(depth) {
      const b = u8();
      if (b <= 0x7f) return b;
      if (b >= 0xe0) return b - 0x100;
      if (b >= 0x80 && b <= 0x8f) return map(b & 0x0f, depth);
      if (b >= 0x90 && b <= 0x9f) return array(b & 0x0f, depth);
      if (b >= 0xa0 && b <= 0xbf) return text(b & 0x1f);
      switch (b) {
        case 0xc0: return null;
        case 0xc2: return false;
        case 0xc3: return true;
        case 0xc4: return bytes(u8());
        case 0xc5: return bytes(u16());
        case 0xc6: return bytes(u32());
        case 0xca: case 0xcb: throw new DecodeError("floats are not allowed");
        case 0xcc: return u8();
        case 0xcd: return u16();
        case 0xce: return u32();
        case 0xcf: {
          need(8);
          const v = view.getBigUint64(pos);
          pos += 8;
          if (v > INT64_MAX) throw new DecodeError(`integer ${v} is outside int64`);
          return int(v);
        }
        case 0xd0: { need(1); const v = view.getInt8(pos); pos += 1; return v; }
        case 0xd1: { need(2); const v = view.getInt16(pos); pos += 2; return v; }
        case 0xd2: { need(4); const v = view.getInt32(pos); pos += 4; return v; }
        case 0xd3: { need(8); const v = view.getBigInt64(pos); pos += 8; return int(v); }
        case 0xd9: return text(u8());
        case 0xda: return text(u16());
        case 0xdb: return text(u32());
        case 0xdc: return array(u16(), depth);
        case 0xdd: return array(u32(), depth);
        case 0xde: return map(u16(), depth);
        case 0xdf: return map(u32(), depth);
        default: throw new DecodeError(`malformed msgpack: type byte 0x${b.toString(16)} is not allowed (ext or reserved)`);
      }
    }
    const result = value(0);
    if (pos !== data.length) throw new DecodeError("trailing bytes after the value");
    if (compareBytes(encode(result), data) !== 0) {
      throw new DecodeError("non-minimal encoding: the value re-encodes to different bytes");
    }
    return result;
  }

  // The canonical bytes of a value (maps are written in their own order, which decode has checked sorted).
  function encode(value) {
    const out = [];
    function push(...bs) { for (const b of bs) out.push(b); }
    function be(n, size) {
      const big = BigInt(n);
      for (let i = size - 1; i >= 0; i -= 1) out.push(Number((big >> BigInt(8 * i)) & 0xffn));
    }
    function len(n, small, smallMax, codes) {
      if (small !== null && n <= smallMax) push(small | n);
      else if (codes[0] !== null && n <= 0xff) { push(codes[0]); be(n, 1); }
      else if (n <= 0xffff) { push(codes[1]); be(n, 2); }
      else { push(codes[2]); be(n, 4); }
    }
    function integer(v) {
      const n = BigInt(v);
      if (n < INT64_MIN || n > INT64_MAX) throw new DecodeError("integer outside int64");
      if (n >= 0n) {
        if (n <= 0x7fn) push(Number(n));
        else if (n <= 0xffn) { push(0xcc); be(n, 1); }
        else if (n <= 0xffffn) { push(0xcd); be(n, 2); }
        else if (n <= 0xffffffffn) { push(0xce); be(n, 4); }
        else { push(0xcf); be(n, 8); }
      } else if (n >= -32n) push(Number(n + 0x100n));
      else if (n >= -128n) { push(0xd0); be(n + 0x100n, 1); }
      else if (n >= -32768n) { push(0xd1); be(n + 0x10000n, 2); }
      else if (n >= -2147483648n) { push(0xd2); be(n + 0x100000000n, 4); }
      else { push(0xd3); be(n + 0x10000000000000000n, 8); }
    }
    function walk(v) {
      if (v === null) push(0xc0);
      else if (v === false) push(0xc2);
      else if (v === true) push(0xc3);
      else if (typeof v === "number" || typeof v === "bigint") {
        if (typeof v === "number" && !Number.isInteger(v)) throw new DecodeError("floats are not allowed");
        integer(v);
      } else if (typeof v === "string") {
        const b = utf8.encode(v);
        len(b.length, 0xa0, 31, [0xd9, 0xda, 0xdb]);
        for (const x of b) out.push(x);
      } else if (v instanceof Uint8Array) {
        len(v.length, null, -1, [0xc4, 0xc5, 0xc6]);
        for (const x of v) out.push(x);
      } else if (Array.isArray(v)) {
        len(v.length, 0x90, 15, [null, 0xdc, 0xdd]);
        for (const x of v) walk(x);
      } else if (v instanceof Map) {
        len(v.size, 0x80, 15, [null, 0xde, 0xdf]);
        for (const [k, x] of v) { walk(k); walk(x); }
      } else throw new DecodeError(`no canonical encoding for ${typeof v}`);
    }
    walk(value);
    return Uint8Array.from(out);
  }

  const Limits = (maxSize, maxDepth, maxLength) => ({ maxSize, maxDepth, maxLength });

  globalThis.shora.msgpack = { decode, encode, Limits, DecodeError, checkText, compareBytes };
})();
