// The decision page: the decision's bundle verified in this browser (verify.js), each step shown with what
// was checked and against which keys. Served by a node it fetches /v1/decisions/{id}/bundle for ?id=; saved
// to disk it runs from file:// on a bundle file chosen in the form. A classic script.
(() => {
  const { page, verify } = globalThis.shora;
  const { t, el, signedText, clear } = page;
  let bytes = null;
  let report = null;

  function showError(message) {
    const error = document.getElementById("error");
    error.hidden = !message;
    error.textContent = message || "";
  }

  // a decoded body as the JSON routes give it: maps as objects, bytes as base64url
  function jsonable(v) {
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, jsonable(x)]));
    if (v instanceof Uint8Array) return verify.b64u(v);
    if (Array.isArray(v)) return v.map(jsonable);
    return typeof v === "bigint" ? String(v) : v;
  }

  function show() {
    if (report === null) return;
    const summary = document.getElementById("summary");
    summary.className = report.failed ? "fail" : "pass";
    summary.textContent = report.failed ? `${t("verify.failed")} ${t(`step.${report.failed}`)} (${report.failed})` : t("verify.ok");
    document.body.dataset.failed = report.failed || "";

    const box = clear(document.getElementById("decision"));
    if (report.decision) {
      const body = jsonable(report.decision);
      const list = el("dl", {});
      const add = (key, value) => list.append(el("dt", {}, t(key)), el("dd", {}, value));
      add("decision.text", signedText(body.text || ""));
      add("decision.outcome", el("span", { class: "outcome" }, t(`outcome.${body.outcome}`)));
      add("decision.tally", page.tally(body.tally));
      add("decision.date", page.date(report.tsMs));
      if (report.council) {
        const c = report.council;
        add("verify.council", signedText(page.lang === "fa" && c.name_fa ? c.name_fa : c.name || ""));
      }
      add("council.key", el("code", { dir: "ltr" }, report.councilKey));
      box.append(list);
    }
    if (report.keyFromBundle) box.append(el("p", { class: "error" }, t("verify.keyFromBundle")));

    const steps = clear(document.getElementById("steps"));
    for (const s of report.steps) {
      const verdict = { pass: "verify.pass", fail: "verify.fail", skipped: "verify.skipped", info: "verify.info" }[s.status];
      steps.append(el("li", { class: s.status, "data-step": s.step },
        el("span", { class: "verdict" }, t(verdict)), " — ", el("span", {}, t(`step.${s.step}`)),
        el("br", {}), el("small", { dir: "ltr" }, s.detail)));
    }
  }

  async function witnesses() {
    const lines = document.getElementById("witnesses").value.split("\n").map((l) => l.trim()).filter(Boolean);
    const out = [];
    for (const line of lines) out.push(await verify.parseVkey(line));
    return out;
  }

  async function run() {
    showError(bytes === null ? t("verify.noBundle") : "");
    if (bytes === null) return;
    let key = null;
    let trusted;
    try {
      const typed = document.getElementById("council-key").value.trim();
      if (typed) key = verify.unb64u(typed);
      trusted = await witnesses();
    } catch (e) {
      showError(`${t("verify.councilKey")}: ${e.message}`);
      return;
    }
    try {
      report = await verify.verifyBundle(bytes, key, trusted);
    } catch (e) {
      showError(String(e)); // a fault of this page, not a verdict on the bundle
      document.body.dataset.verified = "error";
      return;
    }
    show();
    document.body.dataset.verified = "true";
  }

  async function fromNode(id) {
    const node = await page.getJson("/v1/node");
    const field = document.getElementById("council-key");
    if (!field.value) field.value = node.id;
    const response = await page.get(`/v1/decisions/${encodeURIComponent(id)}/bundle`, "application/msgpack");
    bytes = new Uint8Array(await response.arrayBuffer());
  }

  document.addEventListener("DOMContentLoaded", async () => {
    // a copy saved by the browser holds the verdict it showed then: never show it as if checked now
    for (const id of ["summary", "decision", "steps"]) clear(document.getElementById(id));
    delete document.body.dataset.verified;
    delete document.body.dataset.failed;
    page.start();
    page.onRender(show);
    document.getElementById("run").addEventListener("click", run);
    document.getElementById("bundle-file").addEventListener("change", async (event) => {
      const file = event.target.files[0];
      if (!file) return;
      bytes = new Uint8Array(await file.arrayBuffer());
      await run();
    });
    const id = new URLSearchParams(location.search).get("id");
    if (id && location.protocol !== "file:") {
      try {
        await fromNode(id);
        await run();
      } catch (e) {
        showError(`${t("error.load")} ${e.message}`);
        document.body.dataset.verified = "error";
      }
    }
    document.body.dataset.ready = "true";
  });
})();
