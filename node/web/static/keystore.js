// A member's key in this browser: an Ed25519 key pair made by WebCrypto as NON-extractable (no script, this
// page's included, can ever read the private key out; it can only ask the browser to sign with it), kept in
// IndexedDB (which stores the CryptoKey itself, not its bytes). One record per name, for this origin, i.e.
// for the node that served the page. A classic script; the API:
//
//   shora.keystore.generate() -> Promise<{privateKey, publicKey, publicRaw}>
//       a fresh key pair; privateKey.extractable === false; publicRaw the 32-byte public key.
//   shora.keystore.save(name, record) -> Promise    record: {privateKey, publicKey, publicRaw, ...what the
//       page needs with it (member_id, node_id, council as base64url)}; replaces the record of that name.
//   shora.keystore.load(name) -> Promise<record | null>
//   shora.keystore.remove(name) -> Promise
//
// The member page keeps its key under the name "member" (shora.keystore.MEMBER).
(() => {
  const DB = "shora";
  const STORE = "keys";

  function open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function run(mode, act) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const request = act(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(request.result);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  async function generate() {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    const publicRaw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return { privateKey: pair.privateKey, publicKey: pair.publicKey, publicRaw };
  }

  const save = (name, record) => run("readwrite", (store) => store.put(record, name));
  const load = async (name) => (await run("readonly", (store) => store.get(name))) ?? null;
  const remove = (name) => run("readwrite", (store) => store.delete(name));

  globalThis.shora = globalThis.shora || {};
  globalThis.shora.keystore = { generate, save, load, remove, MEMBER: "member" };
})();
