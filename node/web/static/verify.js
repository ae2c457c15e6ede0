// A decision bundle verified in the browser, with WebCrypto alone (Ed25519, SHA-256): the same checks, in the
// same order and named by the same steps, as protocol/bundle.py's verify_bundle, then the recount of
// protocol/recount.py. tests/web/test_verify_page.py checks this file against the Python verifier on the same
// bundles. A classic script: globalThis.shora.verify = {verifyBundle, STEPS, parseVkey, b64u, unb64u}, and the
// primitives other pages reuse (b64, sha256, concat, equal, hex, ed25519, checkPublicKey, provenEntry,
// openCheckpoint, included).
(() => {
  const { msgpack } = globalThis.shora;
  const { DecodeError, Limits, compareBytes } = msgpack;
  const utf8 = new TextEncoder();

  // protocol/bundle.py STEPS, then the recount's
  const STEPS = ["encoding", "log", "body-hash", "kind", "checkpoint-signature", "origin", "unknown-key",
    "entry-signature", "inclusion", "founding", "cosignatures", "outcome"];
  const BUNDLE_LIMITS = Limits(2 * 1024 * 1024, 4, 300000);
  const HEADER_LIMITS = Limits(256, 1, 64);
  const BODY_LIMITS = Limits(256 * 1024, 8, 100000);
  const MAX_PROOF = 64;
  const MAX_KEYS = 64;
  const MAX_NOTE_SIZE = 1 << 20;
  const MAX_SIGNATURES = 100;
  const INT64_MAX = 2n ** 63n - 1n;
  const ENTRY_TAG = utf8.encode("shora/v1/entry\0");
  const KEY_ID_TAG = utf8.encode("shora/v1/key-id\0");
  const COSIGNATURE_HEADER = "cosignature/v1\n";
  const ED25519 = 0x01;
  const COSIGNATURE_V1 = 0x04;

  class VerificationError extends Error {
    constructor(step, message) {
      super(message);
      this.step = step;
    }
  }

  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const equal = (a, b) => a instanceof Uint8Array && b instanceof Uint8Array && compareBytes(a, b) === 0;
  const isBytes = (v) => v instanceof Uint8Array;
  const isUint = (v) => (typeof v === "number" && Number.isInteger(v) && v >= 0) || (typeof v === "bigint" && v >= 0n);
  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

  async function sha256(data) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  }

  // --- base64 ---------------------------------------------------------------------------------------------

  function b64(data) {
    let s = "";
    for (const x of data) s += String.fromCharCode(x);
    return btoa(s);
  }
  function b64u(data) {
    return b64(data).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  // strict standard base64 (protocol.note._unb64): padded, the alphabet only, canonical
  function unb64(text) {
    if (!text || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) throw new DecodeError("not standard base64");
    const raw = atob(text);
    const out = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    if (b64(out) !== text) throw new DecodeError("not canonical standard base64");
    return out;
  }
  // strict base64url without padding (protocol.codec.unb64u)
  function unb64u(text) {
    if (typeof text !== "string" || text.includes("=") || text.length % 4 === 1 || !/^[A-Za-z0-9_-]*$/.test(text)) {
      throw new DecodeError("not base64url without padding");
    }
    const std = text.replace(/-/g, "+").replace(/_/g, "/");
    const out = Uint8Array.from(atob(std + "=".repeat((4 - (std.length % 4)) % 4)), (c) => c.charCodeAt(0));
    if (b64u(out) !== text) throw new DecodeError("not canonical base64url");
    return out;
  }

  // --- keys (protocol/keys.py) ----------------------------------------------------------------------------

  const P = 2n ** 255n - 19n;
  const SMALL_ORDER_Y = new Set([0n, 1n, P - 1n,
    BigInt("0x" + "05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826"),
    BigInt("0x" + "7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7")]);

  // a non-canonical (y >= p) or small-order point encoding: never an honest key, nor an honest R
  function isWeakPoint(encoding) {
    let y = 0n;
    for (let i = 31; i >= 0; i -= 1) y = (y << 8n) | BigInt(encoding[i]);
    y &= (1n << 255n) - 1n;
    return y >= P || SMALL_ORDER_Y.has(y);
  }

  async function keyId(publicKey) {
    return (await sha256(concat(KEY_ID_TAG, publicKey))).slice(0, 8);
  }

  function checkPublicKey(raw) {
    if (!isBytes(raw) || raw.length !== 32) throw new DecodeError("an Ed25519 public key is 32 bytes");
    if (isWeakPoint(raw)) throw new DecodeError("a non-canonical or small-order Ed25519 public key");
  }

  // protocol.keys.PublicKey.verify: true if `signature` is `key`'s over `message`
  async function ed25519(key, message, signature) {
    if (signature.length !== 64 || isWeakPoint(key) || isWeakPoint(signature.slice(0, 32))) return false;
    try {
      const k = await crypto.subtle.importKey("raw", key, { name: "Ed25519" }, false, ["verify"]);
      return await crypto.subtle.verify({ name: "Ed25519" }, k, signature, message);
    } catch (e) {
      return false; // not a point: no signature of it verifies
    }
  }

  // --- entries (protocol/entry.py) ------------------------------------------------------------------------

  function header(data) {
    const fields = msgpack.decode(data, HEADER_LIMITS);
    if (!Array.isArray(fields) || fields.length !== 8) throw new DecodeError("a header is an array of 8 fields");
    const [version, logId, seq, prev, tsMs, vis, bodyHash, keyIdBytes] = fields;
    if (version !== 1) throw new DecodeError(`unknown header format ${version}`);
    if (!isBytes(logId) || logId.length !== 32) throw new DecodeError("header: log_id is 32 bytes");
    if (!isUint(seq)) throw new DecodeError("header: seq is a non-negative int64");
    if (seq === 0) {
      if (prev !== null) throw new DecodeError("header: the first entry has no prev");
    } else if (!isBytes(prev) || prev.length !== 32) throw new DecodeError("header: prev is a 32-byte id");
    if (!isUint(tsMs)) throw new DecodeError("header: ts_ms is a non-negative int64");
    if (vis !== "public" && vis !== "council") throw new DecodeError("header: vis is 'public' or 'council'");
    if (!isBytes(bodyHash) || bodyHash.length !== 32) throw new DecodeError("header: body_hash is 32 bytes");
    if (!isBytes(keyIdBytes) || keyIdBytes.length !== 8) throw new DecodeError("header: key_id is 8 bytes");
    return { logId, seq, prev, tsMs, vis, bodyHash, keyId: keyIdBytes };
  }

  // `salted`: a council record's entry, whose every body carries a salt (protocol.record.RecordEntry)
  async function checkBody(e, salted = false) {
    if (e.bodyBytes.length > BODY_LIMITS.maxSize) throw new DecodeError("body exceeds the size limit");
    if (!equal(await sha256(e.bodyBytes), e.header.bodyHash)) {
      throw new VerificationError("body-hash", "the body does not match the header's body_hash");
    }
    const body = msgpack.decode(e.bodyBytes, BODY_LIMITS);
    if (!(body instanceof Map) || typeof body.get("kind") !== "string" || !body.get("kind")) {
      throw new DecodeError("a body is a map with a non-empty text 'kind'");
    }
    const salt = body.get("salt");
    if (e.header.vis === "council" || salted) {
      if (!isBytes(salt) || salt.length !== 16) throw new DecodeError("a council-visibility body carries a 16-byte salt");
    } else if (body.has("salt")) throw new DecodeError("a public body carries no salt");
    return body;
  }

  // protocol.bundle.ProvenEntry.from_value, with protocol.entry.Entry's checks
  async function provenEntry(value, salted = false) {
    if (!(value instanceof Map) || value.size !== 4 || !["header", "signature", "body", "proof"].every((k) => value.has(k))) {
      throw new DecodeError("a bundled entry has header, signature, body and proof");
    }
    if (!Array.isArray(value.get("proof"))) throw new DecodeError("proof is a list");
    const signature = value.get("signature");
    const headerBytes = value.get("header");
    const bodyBytes = value.get("body");
    if (!isBytes(signature) || signature.length !== 64) throw new DecodeError("an entry signature is 64 bytes");
    if (!isBytes(headerBytes)) throw new DecodeError("header bytes expected");
    if (bodyBytes !== null && !isBytes(bodyBytes)) throw new DecodeError("body bytes expected");
    const e = { headerBytes, signature, bodyBytes, header: header(headerBytes) };
    e.id = await sha256(concat(Uint8Array.of(0), headerBytes));
    if (bodyBytes === null) throw new DecodeError("a bundled entry carries its body");
    e.body = await checkBody(e, salted);
    const proof = value.get("proof");
    if (proof.length > MAX_PROOF || !proof.every(isBytes)) throw new DecodeError("an inclusion path is at most 64 hashes");
    e.proof = proof;
    return e;
  }

  async function decodeBundle(data) {
    const value = msgpack.decode(data, BUNDLE_LIMITS);
    const keys = ["v", "entry", "proof", "checkpoint", "keys", "founding"];
    if (!(value instanceof Map) || value.size !== keys.length || !keys.every((k) => value.has(k))) {
      throw new DecodeError("a bundle is a map of v, entry, proof, checkpoint, keys and founding");
    }
    if (value.get("v") !== 1) throw new DecodeError(`unknown bundle version ${value.get("v")}`);
    const entry = value.get("entry");
    if (!(entry instanceof Map) || typeof value.get("checkpoint") !== "string") {
      throw new DecodeError("bundle entry is a map and checkpoint is note text");
    }
    if (entry.size !== 3 || !["header", "signature", "body"].every((k) => entry.has(k))) {
      throw new DecodeError("bundle entry has header, signature and body");
    }
    if (!Array.isArray(value.get("keys")) || value.get("keys").length > MAX_KEYS) {
      throw new DecodeError("bundle keys is a list of at most 64 entries");
    }
    const decision = await provenEntry(new Map([...entry, ["proof", value.get("proof")]]));
    const history = [];
    for (const k of value.get("keys")) history.push(await provenEntry(k));
    const founding = await provenEntry(value.get("founding"));
    return { decision, checkpoint: value.get("checkpoint"), keys: history, founding };
  }

  async function verifyEntrySignature(e, key, step) {
    if (!equal(e.header.keyId, await keyId(key))) throw new VerificationError(step, "the header names a different signing key");
    if (!(await ed25519(key, concat(ENTRY_TAG, e.headerBytes), e.signature))) {
      throw new VerificationError(step, "not a valid entry signature by this key");
    }
  }

  // --- the Merkle tree (protocol/merkle.py, RFC 9162 §2.1.3.2) ---------------------------------------------

  async function verifyInclusion(leaf, index, size, path, root) {
    const fail = (m) => { throw new VerificationError("inclusion", m); };
    let fn = BigInt(index);
    let sn = BigInt(size) - 1n;
    if (BigInt(index) >= BigInt(size)) fail(`leaf index ${index} is not below tree size ${size}`);
    let r = leaf;
    for (let i = 0; i < path.length; i += 1) {
      const p = path[i];
      if (!isBytes(p) || p.length !== 32) fail(`path[${i}] must be 32 bytes`);
      if (sn === 0n) fail(`path is longer than a tree of ${size} leaves allows`);
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(concat(Uint8Array.of(1), p, r));
        while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await sha256(concat(Uint8Array.of(1), r, p));
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail(`path is shorter than a tree of ${size} leaves needs`);
    if (!equal(r, root)) fail(`path does not lead from leaf ${index} to the root of tree size ${size}`);
  }

  async function included(e, checkpoint) {
    try {
      await verifyInclusion(e.id, e.header.seq, checkpoint.size, e.proof, checkpoint.root);
    } catch (err) {
      throw new VerificationError("inclusion", `entry ${e.header.seq} is not in the checkpoint's tree: ${err.message}`);
    }
  }

  // --- signed notes and checkpoints (protocol/note.py, C2SP signed-note, tlog-checkpoint, tlog-cosignature)

  const CONTROL = /[\x00-\x09\x0b-\x1f]/;

  function checkKeyName(name) {
    if (typeof name !== "string" || !name) throw new DecodeError("a note key name is non-empty text");
    if (name.includes("+") || /[\s\x00-\x1f]/u.test(name) || /[\x1c-\x1f\x85]/.test(name)) {
      throw new DecodeError(`note key name ${name} contains a space, a control character or '+'`);
    }
  }

  async function noteKeyId(name, publicKey, kind) {
    checkKeyName(name);
    return (await sha256(concat(utf8.encode(name), Uint8Array.of(0x0a, kind), publicKey))).slice(0, 4);
  }

  function parseNote(text) {
    if (typeof text !== "string") throw new DecodeError("a signed note is text");
    if (utf8.encode(text).length > MAX_NOTE_SIZE) throw new DecodeError(`a signed note is at most ${MAX_NOTE_SIZE} bytes`);
    if (CONTROL.test(text)) throw new DecodeError("a signed note has no control characters other than newline");
    const split = text.lastIndexOf("\n\n");
    if (split < 0) throw new DecodeError("no blank line separates the note text from its signatures");
    const body = text.slice(0, split + 1);
    const block = text.slice(split + 2);
    if (!block) throw new DecodeError("a signed note has at least one signature line");
    if (!block.endsWith("\n")) throw new DecodeError("the signature block does not end with a newline");
    const lines = block.slice(0, -1).split("\n");
    if (lines.length > MAX_SIGNATURES) throw new DecodeError(`more than ${MAX_SIGNATURES} signatures`);
    const signatures = lines.map((line) => {
      if (!line.startsWith("\u2014 ")) throw new DecodeError("a signature line starts with an em dash and a space");
      const rest = line.slice(2);
      const sp = rest.indexOf(" ");
      if (sp < 0) throw new DecodeError("a signature line is '\u2014 name signature'");
      const name = rest.slice(0, sp);
      const raw = unb64(rest.slice(sp + 1));
      if (raw.length <= 4) throw new DecodeError("a note signature holds a key id and at least one byte");
      checkKeyName(name);
      return { name, keyId: raw.slice(0, 4), signature: raw.slice(4) };
    });
    if (!body.endsWith("\n")) throw new DecodeError("note text ends with a newline");
    return { text: body, signatures };
  }

  function checkLine(line, what) {
    if (typeof line !== "string" || !line || line.includes("\n")) throw new DecodeError(`a checkpoint ${what} is one non-empty line`);
    if (CONTROL.test(line)) throw new DecodeError("a signed note has no control characters other than newline");
  }

  function checkpointOf(text) {
    if (!text.endsWith("\n")) throw new DecodeError("a checkpoint ends with a newline");
    const lines = text.slice(0, -1).split("\n");
    if (lines.length < 3) throw new DecodeError("a checkpoint has an origin, a size and a root hash line");
    const [origin, size, root, ...extensions] = lines;
    if (!/^(0|[1-9][0-9]*)$/.test(size) || BigInt(size) > INT64_MAX) {
      throw new DecodeError("a tree size is decimal, without leading zeros, at most 2^63-1");
    }
    const rootBytes = unb64(root);
    checkLine(origin, "origin");
    if (rootBytes.length !== 32) throw new DecodeError("a root hash is 32 bytes");
    for (const line of extensions) checkLine(line, "extension line");
    const again = [origin, size, b64(rootBytes), ...extensions].map((l) => `${l}\n`).join("");
    if (again !== text) throw new DecodeError("the checkpoint does not re-encode to the same bytes");
    return { origin, size: BigInt(size), root: rootBytes, text };
  }

  // protocol.note.open_checkpoint: the origin is the council's (or `origin`: its record's), the council's key
  // signed the note
  async function openCheckpoint(noteText, councilKey, origin = null) {
    let note;
    let checkpoint;
    try {
      note = parseNote(noteText);
      checkpoint = checkpointOf(note.text);
    } catch (err) {
      if (err instanceof DecodeError) throw new VerificationError("checkpoint-signature", err.message);
      throw err;
    }
    const expected = origin ?? `shora/${b64u(councilKey)}`;
    if (checkpoint.origin !== expected) {
      throw new VerificationError("origin", `checkpoint of '${checkpoint.origin}', expected '${expected}'`);
    }
    let id;
    try {
      id = await noteKeyId(checkpoint.origin, councilKey, ED25519);
    } catch (err) {
      throw new VerificationError("checkpoint-signature", "the origin is not a usable key name");
    }
    const message = utf8.encode(note.text);
    let verified = 0;
    for (const sig of note.signatures) {
      if (sig.name !== checkpoint.origin || !equal(sig.keyId, id)) continue;
      if (!(await ed25519(councilKey, message, sig.signature))) {
        throw new VerificationError("checkpoint-signature", `${sig.name}+${hex(sig.keyId)}: not a valid note signature by this key`);
      }
      verified += 1;
    }
    if (verified === 0) throw new VerificationError("checkpoint-signature", "the note has no signature by a known key");
    return { checkpoint, signatures: note.signatures };
  }

  // protocol.note.verify_cosignatures: every trusted witness's cosignature/v1 lines verify; at least `min`
  async function verifyCosignatures(signed, witnesses, min) {
    const keys = [];
    for (const w of witnesses) keys.push({ ...w, keyId: await noteKeyId(w.name, w.key, COSIGNATURE_V1) });
    const newest = new Map(); // by public key, hex
    for (const sig of signed.signatures) {
      const key = keys.find((k) => k.name === sig.name && equal(k.keyId, sig.keyId));
      if (!key) continue;
      const fail = (m) => { throw new VerificationError("cosignatures", `${sig.name}: ${m}`); };
      if (sig.signature.length !== 72) fail("a cosignature/v1 is a timestamp and an Ed25519 signature");
      const ts = new DataView(sig.signature.buffer, sig.signature.byteOffset).getBigUint64(0);
      if (ts > INT64_MAX) fail("a cosignature timestamp is at most 2^63-1");
      const message = concat(utf8.encode(`${COSIGNATURE_HEADER}time ${ts}\n`), utf8.encode(signed.checkpoint.text));
      if (!(await ed25519(key.key, message, sig.signature.slice(8)))) fail("not a valid note signature by this key");
      const previous = newest.get(hex(key.key));
      if (previous === undefined || ts > previous.timestamp) newest.set(hex(key.key), { name: key.name, timestamp: ts });
    }
    if (newest.size < min) {
      throw new VerificationError("cosignatures", `${newest.size} valid witness cosignatures, at least ${min} required`);
    }
    return [...newest.values()];
  }

  // a verifier key "name+hex(keyid)+base64(type || key)", checked as protocol.note.parse_vkey
  async function parseVkey(text) {
    const plus = text.indexOf("+");
    const name = plus < 0 ? text : text.slice(0, plus);
    const rest = plus < 0 ? "" : text.slice(plus + 1);
    const plus2 = rest.indexOf("+");
    const hash16 = plus2 < 0 ? rest : rest.slice(0, plus2);
    if (!/^[0-9a-f]{8}$/.test(hash16)) throw new DecodeError("a verifier key's id is 8 lowercase hex digits");
    const raw = unb64(plus2 < 0 ? "" : rest.slice(plus2 + 1));
    if (raw.length !== 33) throw new DecodeError("a verifier key holds a type byte and a 32-byte Ed25519 key");
    if (raw[0] !== ED25519 && raw[0] !== COSIGNATURE_V1) throw new DecodeError(`unsupported note signature type ${raw[0]}`);
    const key = raw.slice(1);
    checkPublicKey(key);
    if (hex(await noteKeyId(name, key, raw[0])) !== hash16) throw new DecodeError("a verifier key's id does not match its name and key");
    return { name, key };
  }

  // --- key history (protocol.bundle._signing_key, _key_entry) -------------------------------------------

  async function keyEntry(e, root, checkpoint) {
    const seq = e.header.seq;
    try {
      if (!equal(e.header.logId, root)) throw new VerificationError("log", "it belongs to another log");
      await checkBody(e);
      await verifyEntrySignature(e, root, "unknown-key");
    } catch (err) {
      if (err instanceof VerificationError || err instanceof DecodeError) {
        throw new VerificationError("unknown-key", `key history entry ${seq} is invalid: ${err.message}`);
      }
      throw err;
    }
    await included(e, checkpoint);
    const body = e.body;
    if (body.get("kind") !== "log/key" || !isBytes(body.get("key"))) {
      throw new VerificationError("unknown-key", `key history entry ${seq} is not a log/key entry`);
    }
    if (body.get("action") !== "add" && body.get("action") !== "revoke") {
      throw new VerificationError("unknown-key", `key history entry ${seq} neither adds nor revokes`);
    }
    try {
      checkPublicKey(body.get("key"));
    } catch (err) {
      throw new VerificationError("unknown-key", `key history entry ${seq}: ${err.message}`);
    }
    return body;
  }

  async function signingKey(bundle, root, rootId, checkpoint) {
    const wanted = bundle.decision.header.keyId;
    if (equal(wanted, rootId)) return { key: root, history: [] };
    const seq = BigInt(bundle.decision.header.seq);
    const count = bundle.decision.body.get("key_entries");
    if (!isUint(count)) throw new VerificationError("unknown-key", "a delegated key's decision states its key_entries");
    const seqs = bundle.keys.map((e) => BigInt(e.header.seq));
    if (seqs.includes(seq) || seqs.some((s, i) => i > 0 && seqs[i - 1] >= s)) {
      throw new VerificationError("unknown-key", "the key history is the log/key entries before the decision, in log order");
    }
    const before = seqs.filter((s) => s < seq).length;
    if (BigInt(before) !== BigInt(count)) {
      throw new VerificationError("unknown-key", `the decision follows ${count} log/key entries, the bundle carries ${before}`);
    }
    let valid = null;
    const history = [];
    for (const e of bundle.keys) {
      const body = await keyEntry(e, root, checkpoint);
      const key = body.get("key");
      const id = await keyId(key);
      history.push({ seq: e.header.seq, action: body.get("action"), key: b64u(key) });
      const after = BigInt(e.header.seq) > seq;
      if (after && !(body.get("action") === "revoke" && equal(id, wanted))) {
        throw new VerificationError("unknown-key", `key history entry ${e.header.seq} comes after the decision and does not revoke its key`);
      }
      if (!equal(id, wanted)) continue;
      if (body.get("action") === "add") valid = key;
      else {
        const start = body.has("from") ? body.get("from") : e.header.seq;
        if (!isUint(start) || !(BigInt(start) > 0n && BigInt(start) <= BigInt(e.header.seq))) {
          throw new VerificationError("unknown-key", `key history entry ${e.header.seq}: from is a position not after it`);
        }
        if (BigInt(start) <= seq) valid = null;
      }
    }
    if (valid === null) {
      throw new VerificationError("unknown-key",
        "the signing key is neither the root key nor delegated by it at the entry's position (never added, or revoked)");
    }
    return { key: valid, history };
  }

  // --- the recount (protocol/recount.py) -----------------------------------------------------------------

  const isCount = (v) => typeof v === "number" && Number.isInteger(v) && v >= 0;

  function quorumRequired(quorum, active) {
    if (quorum === null || quorum === undefined) return 0;
    if (quorum instanceof Map && quorum.size === 1 && quorum.has("count") && isCount(quorum.get("count"))) return quorum.get("count");
    if (quorum instanceof Map && quorum.size === 1 && quorum.has("fraction")) {
      const f = quorum.get("fraction");
      if (Array.isArray(f) && f.length === 2 && f.every(isCount) && f[0] > 0 && f[0] <= f[1]) {
        return Number((BigInt(active) * BigInt(f[0]) + BigInt(f[1]) - 1n) / BigInt(f[1])); // rounded up
      }
    }
    throw new VerificationError("outcome", "the decision's quorum is not a quorum rule");
  }

  function majorityOutcome(majority, yes, no, participants) {
    if (majority === "simple") return yes > no ? "adopted" : yes === no ? "tied" : "rejected";
    if (majority === "absolute") return 2 * yes > participants ? "adopted" : 2 * yes === participants ? "tied" : "rejected";
    if (majority === "two_thirds" || majority === "two_thirds_participants") {
      const base = majority === "two_thirds_participants" ? participants : yes + no;
      if (yes > 0 && 3 * yes >= 2 * base) return "adopted";
      return 3 * yes === 2 * base ? "tied" : "rejected";
    }
    throw new VerificationError("outcome", `unknown majority rule '${majority}'`);
  }

  const FIELDS = ["active_members", "quorum_required", "participants", "votes_cast"];
  const APPROVAL_MAJORITY = "approval-majority";
  // Python's == between a stated value and an int: a bool is 0 or 1 there
  const pyEqInt = (v, n) => v === n || (typeof v === "boolean" && Number(v) === n);
  const pyRepr = (v) => (v === undefined || v === null ? "None" : typeof v === "string" ? `'${v}'` : typeof v === "boolean" ? (v ? "True" : "False") : String(v));

  // true: recounted and it follows; false: the bundle cannot say (hidden tally, an election without a
  // method, no counts) — protocol/recount.py's recount, check for check and in its order
  function recount(body) {
    const tally = body.get("tally");
    if (!(tally instanceof Map) || !FIELDS.every((f) => body.has(f))) return false;
    if (body.get("motion_kind") === "election") {
      if (body.get("method") !== APPROVAL_MAJORITY) return false;
      return recountElection(body, tally);
    }
    if (!tally.has("yes")) return false;
    if (!FIELDS.every((f) => isCount(body.get(f))) || !["yes", "no", "abstain"].every((k) => isCount(tally.get(k)))) {
      throw new VerificationError("outcome", "the decision's tally is not counts");
    }
    const [yes, no, abstain] = ["yes", "no", "abstain"].map((k) => tally.get(k));
    if (yes + no + abstain !== body.get("votes_cast") || body.get("votes_cast") > body.get("participants")) {
      throw new VerificationError("outcome", "the votes do not add up to the votes cast, or exceed the participants");
    }
    const majority = statedMajority(body);
    follows(body, short(body) ? "no_quorum" : majorityOutcome(majority, yes, no, body.get("participants")));
    return true;
  }

  // whether the participants fell short of the quorum, the stated quorum checked first; quorum_capped (true,
  // present only then): the quorum asked for more than the active members, so they are required
  function short(body) {
    const active = body.get("active_members");
    let required = quorumRequired(body.get("quorum"), active);
    if (body.has("quorum_capped")) {
      if (body.get("quorum_capped") !== true || required <= active) {
        throw new VerificationError("outcome", "quorum_capped is true, and only when the quorum asks for more than the active members");
      }
      required = active;
    }
    if (required !== body.get("quorum_required")) {
      throw new VerificationError("outcome", `the quorum asks for ${required} participants, the decision says ${body.get("quorum_required")}`);
    }
    return body.get("participants") < required;
  }

  function statedMajority(body) {
    const majority = body.get("majority");
    if (typeof majority !== "string") throw new VerificationError("outcome", "the decision does not state its majority rule");
    return majority;
  }

  function follows(body, expected) {
    if (body.get("outcome") !== expected) {
      throw new VerificationError("outcome", `the tally and the rules give ${expected}, the decision says ${pyRepr(body.get("outcome"))}`);
    }
  }

  // an election under "approval-majority", seat by seat (protocol/recount.py _recount_election)
  function recountElection(body, tally) {
    const approvals = tally.get("approvals");
    const ballots = tally.get("ballots");
    const seats = body.get("seats");
    const elected = body.get("elected");
    const tied = body.get("tied");
    if (
      !FIELDS.every((f) => isCount(body.get(f))) || !isCount(ballots) || !isCount(seats)
      || !Array.isArray(approvals)
      || !approvals.every((a) => Array.isArray(a) && a.length === 2 && isBytes(a[0]) && isCount(a[1]))
      || !Array.isArray(elected) || !elected.every((e) => e instanceof Map && isBytes(e.get("member")))
      || !Array.isArray(tied) || !tied.every(isBytes)
    ) {
      throw new VerificationError("outcome", "the election's tally is not counts");
    }
    const counts = new Map(approvals.map(([member, n]) => [hex(member), n])); // a later pair wins, as in a dict
    if (ballots !== body.get("votes_cast") || ballots > body.get("participants") || [...counts.values()].some((n) => n > ballots)) {
      throw new VerificationError("outcome", "the approvals exceed the ballots, or the ballots the participants");
    }
    const seated = elected.map((e) => hex(e.get("member")));
    if (!elected.every((e, i) => pyEqInt(e.get("seat"), i)) || seated.length > seats) {
      throw new VerificationError("outcome", "the seats are not numbered in order, or more than the election's");
    }
    if (!pyEqInt(body.get("vacant"), seats - seated.length)) {
      throw new VerificationError("outcome", `${seated.length} of ${seats} seats filled, the decision says vacant ${pyRepr(body.get("vacant"))}`);
    }
    const majority = statedMajority(body);
    const level = tied.map(hex);
    if (short(body)) {
      if (seated.length || level.length) throw new VerificationError("outcome", "a decision without quorum elects nobody");
      follows(body, "no_quorum");
      return true;
    }
    for (const member of [...seated, ...level]) {
      const n = counts.get(member);
      if (n === undefined || majorityOutcome(majority, n, ballots - n, body.get("participants")) !== "adopted") {
        throw new VerificationError("outcome", "a candidate took or tied for a seat without the majority the rules ask");
      }
    }
    const order = seated.map((m) => counts.get(m));
    const levels = new Set(level.map((m) => counts.get(m)));
    if (
      new Set([...seated, ...level]).size !== seated.length + level.length
      || level.length === 1
      || order.some((n, i) => i > 0 && n > order[i - 1])
      || levels.size > 1
      || (order.length && levels.size && Math.min(...order) <= Math.min(...levels))
    ) {
      throw new VerificationError("outcome", "seats do not go by most approvals, or the tie is not a tie");
    }
    follows(body, seated.length ? "adopted" : level.length ? "tied" : "rejected");
    return true;
  }

  // --- the whole check -----------------------------------------------------------------------------------

  // Verify `data` (the bundle's bytes) against the council's root key (32 bytes; null: the key the bundle
  // itself names, which the reader must then compare) and trusted witnesses ([{name, key}]; each must have
  // cosigned). Never throws for a bad bundle: returns {steps: [{step, status, detail}], failed, ...}.
  async function verifyBundle(data, councilKey, witnesses) {
    const steps = new Map(STEPS.map((s) => [s, { step: s, status: "skipped", detail: "" }]));
    const report = { steps: [], failed: null, message: "", keyFromBundle: councilKey === null };
    const pass = (step, detail) => Object.assign(steps.get(step), { status: "pass", detail });
    let bundle;
    try {
      try {
        bundle = await decodeBundle(data);
      } catch (err) {
        if (err instanceof DecodeError) throw new VerificationError("encoding", err.message);
        throw err;
      }
      pass("encoding", `${data.length} bytes, canonical msgpack`);
      const decision = bundle.decision;
      const root = councilKey === null ? decision.header.logId : councilKey;
      checkPublicKey(root);
      const rootId = await keyId(root);
      report.councilKey = b64u(root);
      if (!equal(decision.header.logId, root)) throw new VerificationError("log", "the entry belongs to another council's log");
      pass("log", `log ${b64u(root)}`);
      try {
        await checkBody(decision);
      } catch (err) {
        if (err instanceof DecodeError) throw new VerificationError("body-hash", err.message);
        throw err;
      }
      pass("body-hash", `SHA-256 ${hex(decision.header.bodyHash)}`);
      if (decision.body.get("kind") !== "decision") throw new VerificationError("kind", "the bundled entry is not a decision");
      pass("kind", "decision");
      const signed = await openCheckpoint(bundle.checkpoint, root);
      const cp = signed.checkpoint;
      pass("origin", cp.origin);
      pass("checkpoint-signature", `tree size ${cp.size}, root ${hex(cp.root)}; signed by ${b64u(root)}`);
      const signer = await signingKey(bundle, root, rootId, cp);
      pass("unknown-key", equal(signer.key, root)
        ? `the council's root key ${b64u(root)}`
        : `delegated key ${b64u(signer.key)}: ${signer.history.map((h) => `${h.action} ${h.key.slice(0, 10)} @${h.seq}`).join(", ")}`);
      try {
        await verifyEntrySignature(decision, signer.key, "entry-signature");
      } catch (err) {
        throw new VerificationError("entry-signature", err.message);
      }
      pass("entry-signature", `Ed25519 by ${b64u(signer.key)}`);
      await included(decision, cp);
      pass("inclusion", `entry ${decision.header.seq} of ${cp.size}, ${decision.proof.length} hashes`);
      const founding = bundle.founding;
      if (!equal(founding.header.logId, root) || founding.header.seq !== 0) {
        throw new VerificationError("founding", "the founding entry is not entry 0 of this council's log");
      }
      try {
        await verifyEntrySignature(founding, root, "founding");
      } catch (err) {
        throw new VerificationError("founding", `the founding entry is invalid: ${err.message}`);
      }
      await included(founding, cp);
      const profile = founding.body.get("profile");
      if (founding.body.get("kind") !== "council/found" || !(profile instanceof Map)) {
        throw new VerificationError("founding", "entry 0 does not found a council");
      }
      report.council = Object.fromEntries(profile);
      pass("founding", `${profile.get("name")} — ${profile.get("city")}, ${profile.get("country")}`);
      const distinct = new Set(witnesses.map((w) => hex(w.key))).size;
      const cosigners = await verifyCosignatures(signed, witnesses, distinct);
      const others = signed.signatures.length - 1 - cosigners.length;
      pass("cosignatures", witnesses.length === 0
        ? `no witness keys given: ${signed.signatures.length - 1} other signature lines not checked`
        : `${cosigners.map((c) => `${c.name} @${c.timestamp}`).join(", ")}${others > 0 ? `; ${others} lines by other keys not checked` : ""}`);
      report.decision = decision.body;
      report.seq = decision.header.seq;
      report.tsMs = Number(decision.header.tsMs);
      report.id = b64u(decision.id);
      if (recount(decision.body)) pass("outcome", `${decision.body.get("outcome")}: follows from the tally under ${decision.body.get("majority")}`);
      else Object.assign(steps.get("outcome"), { status: "info", detail: "not recounted: the tally is not in the bundle, or an election without a declared method" });
    } catch (err) {
      if (!(err instanceof VerificationError)) {
        if (!(err instanceof DecodeError)) throw err;
        err = new VerificationError("log", err.message); // the council key itself is not a key
      }
      report.failed = err.step;
      report.message = err.message;
      Object.assign(steps.get(err.step), { status: "fail", detail: err.message });
    }
    report.steps = [...steps.values()];
    return report;
  }

  globalThis.shora.verify = {
    verifyBundle, STEPS, parseVkey, b64u, unb64u, VerificationError,
    b64, sha256, concat, equal, hex, ed25519, checkPublicKey, provenEntry, openCheckpoint, included,
  };
})();
