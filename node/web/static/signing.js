// A member's signatures, made in the browser exactly as protocol/ makes them: the statements of
// protocol/member.py (docs/protocol.md §14.1) and the RFC 9421 request signatures of protocol/httpsig.py (§7).
// A classic script; needs assigned.js, msgpack.js and verify.js loaded first. The API:
//
//   shora.signing.ACTS                          act -> its fields, exactly (protocol/member.py ACTS)
//   shora.signing.statement(act, council, fields) -> Uint8Array
//       the statement's canonical msgpack bytes; ids are Uint8Array (member 16 bytes, the others 32), a
//       ballot's choice text or null and approvals a list of member ids; an ill-formed statement throws.
//   shora.signing.signStatement(privateKey, bytes) -> Promise<Uint8Array>
//       Ed25519 over "shora/v1/member\0" + bytes (Domain.MEMBER); privateKey a WebCrypto CryptoKey.
//   shora.signing.signed(privateKey, act, council, fields) -> Promise<{statement, sig}>
//       the body a member route takes: both base64url.
//   shora.signing.requestHeaders(privateKey, publicRaw, request) -> Promise<headers>
//       request = {method, authority, path, query (no "?"), body: Uint8Array, recipient: node id bytes,
//       created?: POSIX seconds, nonce?: base64url} -> Content-Digest, Shora-Recipient, Signature-Input,
//       Signature (created defaults to now, nonce to 16 fresh random bytes).
//   shora.signing.call(keys, recipient, method, path, value?) -> Promise<Response>
//       a request to this page's own node, signed: keys = {privateKey, publicRaw}; path with its query;
//       value (a JSON value) is sent as the body; a GET sends none.
(() => {
  const { msgpack, verify } = globalThis.shora;
  const { b64, b64u, sha256, concat } = verify;
  const utf8 = new TextEncoder();
  const MEMBER_TAG = utf8.encode("shora/v1/member\0");
  const REQUEST_TAG = "shora/v1/request";
  const COMPONENTS = ["@method", "@authority", "@path", "@query", "content-digest", "shora-recipient"];

  const ACTS = {
    join: ["member", "charter_hash", "key"],
    key: ["member", "key"],
    checkin: ["assembly", "member"],
    ballot: ["assembly", "motion", "member", "choice", "approvals"],
    requisition: ["member", "text"],
    leave: ["member"],
    convene: ["member", "agenda", "ground", "due_ms"],
    resign: ["member", "decision"],
    consent: ["assembly", "member"],
  };
  const SIZES = { member: 16, council: 32, assembly: 32, motion: 32, charter_hash: 32, key: 32, decision: 32 };

  const isId = (v, n) => v instanceof Uint8Array && v.length === n;

  // protocol.member.Statement: exactly the act's fields, each of its type; then canonical msgpack
  function statement(act, council, fields) {
    if (!Object.hasOwn(ACTS, act)) throw new TypeError(`a member statement's act is one of ${Object.keys(ACTS).sort().join(", ")}`);
    const names = Object.keys(fields).sort();
    if (names.join() !== [...ACTS[act]].sort().join()) throw new TypeError(`a ${act} statement has exactly ${ACTS[act].join(", ")}`);
    for (const [name, value] of [["council", council], ...Object.entries(fields)]) {
      if (SIZES[name] !== undefined && !isId(value, SIZES[name])) throw new TypeError(`a statement's ${name} is ${SIZES[name]} bytes`);
    }
    if (act === "ballot") {
      if (fields.choice !== null && typeof fields.choice !== "string") throw new TypeError("a ballot's choice is text or null");
      if (!Array.isArray(fields.approvals) || !fields.approvals.every((a) => isId(a, 16))) {
        throw new TypeError("a ballot's approvals are member ids");
      }
    }
    for (const name of ["text", "agenda", "ground"]) {
      if (name in fields && typeof fields[name] !== "string") throw new TypeError(`a statement's ${name} is text`);
    }
    if ("due_ms" in fields && !(Number.isSafeInteger(fields.due_ms) && fields.due_ms >= 0)) {
      throw new TypeError("a convening's due_ms is an integer");
    }
    for (const name of ["choice", "text", "agenda", "ground"]) {
      if (typeof fields[name] === "string") msgpack.checkText(fields[name], name); // NFC, assigned: as codec
    }
    // canonical: the map's keys sorted by their UTF-8 bytes (all ASCII here)
    const value = new Map([["act", act], ["council", council], ...Object.entries(fields)].sort(([a], [b]) => (a < b ? -1 : 1)));
    return msgpack.encode(value);
  }

  async function sign(privateKey, message) {
    return new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, privateKey, message));
  }

  function signStatement(privateKey, bytes) {
    return sign(privateKey, concat(MEMBER_TAG, bytes));
  }

  async function signed(privateKey, act, council, fields) {
    const bytes = statement(act, council, fields);
    return { statement: b64u(bytes), sig: b64u(await signStatement(privateKey, bytes)) };
  }

  // RFC 8941 string: printable ASCII, backslash and quote escaped (protocol.httpsig._sf_string)
  function sfString(text) {
    if (!/^[\x20-\x7e]*$/.test(text)) throw new TypeError("a structured-field string is printable ASCII");
    return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  }

  async function requestHeaders(privateKey, publicRaw, request) {
    const { method, authority, path, query, body, recipient } = request;
    if (!isId(recipient, 32)) throw new TypeError("a recipient node id is 32 bytes");
    const created = request.created ?? Math.floor(Date.now() / 1000);
    const nonce = request.nonce ?? b64u(crypto.getRandomValues(new Uint8Array(16)));
    const digest = `sha-256=:${b64(await sha256(body))}:`;
    const recipientText = b64u(recipient);
    const values = [method, authority.toLowerCase(), path, `?${query}`, digest, recipientText];
    for (const v of values) {
      if (!/^[\x20-\x7e]*$/.test(v) || v !== v.trim()) throw new TypeError(`${v} cannot appear in a signature base`);
    }
    const params = `(${COMPONENTS.map(sfString).join(" ")});created=${created};nonce=${sfString(nonce)}`
      + `;keyid=${sfString(b64u(publicRaw))};alg="ed25519";tag=${sfString(REQUEST_TAG)}`;
    const lines = COMPONENTS.map((name, i) => `${sfString(name)}: ${values[i]}`);
    lines.push(`"@signature-params": ${params}`);
    const signature = await sign(privateKey, utf8.encode(lines.join("\n")));
    return {
      "Content-Digest": digest,
      "Shora-Recipient": recipientText,
      "Signature-Input": `shora=${params}`,
      Signature: `shora=:${b64(signature)}:`,
    };
  }

  async function call(keys, recipient, method, path, value) {
    const url = new URL(path, location.href);
    const body = value === undefined ? new Uint8Array(0) : utf8.encode(JSON.stringify(value));
    const headers = await requestHeaders(keys.privateKey, keys.publicRaw, {
      method, authority: url.host, path: url.pathname, query: url.search.replace(/^\?/, ""), body, recipient,
    });
    if (value !== undefined) headers["Content-Type"] = "application/json";
    return fetch(url, { method, headers, body: method === "GET" ? undefined : body, credentials: "omit" });
  }

  globalThis.shora.signing = { ACTS, statement, signStatement, signed, requestHeaders, call };
})();
