// The member's page (GET /member): redeem an invitation with a key made in this browser (keystore.js), read
// the council's record, check in to the open assembly, vote on its motions (ballot.js), and check, after the
// close, that the ballot was counted, verifying the proof here. Every request is signed with the member's key
// (signing.js); every refusal of the node is said in words (i18n.js "refusal.*"). A classic script.
(() => {
  const { page, verify, keystore, signing, ballot, msgpack } = globalThis.shora;
  const { t, el, num, signedText, clear } = page;
  const { b64u, unb64u } = verify;
  const PAGE = 20; // record entries per page
  const BODY_LIMITS = msgpack.Limits(256 * 1024, 8, 100000);
  let stored = null; // the member's key and what redeeming it learnt
  let me = null; // GET /v1/member/me
  let records = []; // the record's entries read so far
  let recordSize = 0;
  let proof = null; // the last proof checked: {motion, report}
  let shown = null; // what #error says: an Error, maybe a refusal {code, status}
  let told = null; // what #notice says: a key of i18n
  let acted = 0;

  const known = (key) => t(key) !== key;

  // a refusal of the node as an Error carrying its code ("vote.duplicate") and status
  async function refusal(response) {
    let value = {};
    try {
      value = await response.json();
    } catch (e) {
      // not the error shape: the status says it
    }
    return Object.assign(new Error(value.message || String(response.status)), {
      code: value.error || `http-${response.status}`, status: response.status,
    });
  }

  async function call(method, path, value) {
    const response = await signing.call(stored, unb64u(stored.node_id), method, path, value);
    if (!response.ok) throw await refusal(response);
    return response;
  }

  function showError() {
    const box = clear(document.getElementById("error"));
    box.hidden = shown === null;
    if (shown === null) return;
    if (shown.code) {
      const words = known(`refusal.${shown.code}`) ? t(`refusal.${shown.code}`) : t("refusal.other");
      box.append(`${t("member.refused")} ${words} `, el("small", { dir: "ltr", class: "code" }, `(${shown.status} ${shown.code})`));
    } else {
      box.append(`${t("error.load")} `, el("small", { dir: "ltr" }, shown.message));
    }
  }

  function showNotice() {
    const box = document.getElementById("notice");
    box.hidden = told === null;
    box.textContent = told === null ? "" : t(told);
  }

  // one action of the member: buttons off while it runs, its refusal shown, counted in body[data-acted]
  async function act(what) {
    shown = null;
    told = null;
    const buttons = [...document.querySelectorAll("main button")];
    for (const b of buttons) b.disabled = true;
    try {
      await what();
    } catch (e) {
      shown = e;
    } finally {
      for (const b of buttons) b.disabled = false;
      showError();
      showNotice();
      document.body.dataset.acted = String(++acted);
    }
  }

  // --- redeeming an invitation ------------------------------------------------------------------------

  // (council id, charter hash) from the node's public log entry 0, as `shora member redeem` reads them
  async function councilOf(nodeId) {
    const found = await page.getJson(`/v1/logs/${nodeId}/entries?after_seq=-1&limit=1`);
    const body = msgpack.decode(unb64u(found.entries[0].body), BODY_LIMITS);
    return [body.get("record").get("entry"), body.get("charter_hash")];
  }

  async function redeem() {
    const text = document.getElementById("invitation").value.trim();
    let token;
    try {
      token = unb64u(text);
    } catch (e) {
      token = null;
    }
    if (token === null || token.length !== 64) throw Object.assign(new Error("not an invitation"), { code: "invitation.malformed", status: "" });
    const nodeId = token.slice(0, 32);
    const member = token.slice(32, 48);
    const node = await page.getJson("/v1/node");
    if (node.id !== b64u(nodeId)) throw Object.assign(new Error("another node's invitation"), { code: "invitation.other-node", status: "" });
    const [council, charter] = await councilOf(b64u(nodeId));
    if (node.charter_hash && node.charter_hash !== b64u(charter)) {
      throw Object.assign(new Error("the node's charter is not its founding one"), { code: "member.charter-mismatch", status: "" });
    }
    // each try is made with a new key: a key not yet bound may sign only two requests in the node's window
    const send = async (act, fields) => {
      const keys = await keystore.generate();
      const body = await signing.signed(keys.privateKey, act, council, { member, key: keys.publicRaw, ...fields });
      return [keys, await signing.call(keys, nodeId, "POST", "/v1/member/redeem", { invitation: text, ...body })];
    };
    let [keys, response] = await send("join", { charter_hash: charter });
    if (response.status === 422) {
      const refused = await refusal(response);
      if (refused.code !== "statement.act") throw refused;
      [keys, response] = await send("key", {}); // an existing member's invitation: a new key, not a join
    }
    if (!response.ok) throw await refusal(response);
    const out = await response.json();
    stored = { ...keys, node_id: b64u(nodeId), council: b64u(council), voted: [], member_id: out.member_id };
    await keystore.save(keystore.MEMBER, stored);
    document.getElementById("invitation").value = "";
    told = "member.redeemed";
    await refresh();
  }

  // --- the member, the open assembly, its motions ---------------------------------------------------------

  async function refresh() {
    me = await (await call("GET", "/v1/member/me")).json();
    records = [];
    recordSize = 0;
    await more();
    show();
  }

  async function more() {
    const after = records.length ? records[records.length - 1].seq : -1;
    const got = await (await call("GET", `/v1/member/record/log?after_seq=${after}&limit=${PAGE}`)).json();
    records = records.concat(got.entries);
    recordSize = got.size;
  }

  async function checkin() {
    const body = await signing.signed(stored.privateKey, "checkin", unb64u(stored.council), {
      assembly: unb64u(me.open_assembly), member: unb64u(stored.member_id),
    });
    await call("POST", "/v1/member/checkin", body);
    told = "member.checkedIn";
    await refresh();
  }

  // consent to stand as a candidate in the open assembly's elections (issue 13: no one stands unasked)
  async function consent() {
    const body = await signing.signed(stored.privateKey, "consent", unb64u(stored.council), {
      assembly: unb64u(me.open_assembly), member: unb64u(stored.member_id),
    });
    await call("POST", "/v1/member/consent", body);
    told = "member.consented";
    await refresh();
  }

  async function vote(motion, form) {
    const picked = [...form.querySelectorAll("input:checked")].map((i) => i.value);
    if (motion.kind !== "election" && picked.length !== 1) {
      throw Object.assign(new Error("choose yes, no or abstain"), { code: "vote.no-choice", status: "" });
    }
    const choice = motion.kind === "election" ? { approvals: picked } : { choice: picked[0] };
    const body = await ballot.sign(stored.privateKey, stored.council, stored.member_id, motion, choice);
    await call("POST", `/v1/member/motions/${encodeURIComponent(motion.motion_id)}/ballot`, body);
    if (!stored.voted.includes(motion.motion_id)) stored.voted = [...stored.voted, motion.motion_id];
    await keystore.save(keystore.MEMBER, stored);
    document.getElementById("check-motion").value = motion.motion_id;
    told = "member.ballotCast";
    await refresh();
  }

  async function check() {
    const motion = document.getElementById("check-motion").value.trim();
    proof = null;
    show();
    if (!motion) throw Object.assign(new Error("no motion"), { code: "check.no-motion", status: "" });
    const response = await call("GET", `/v1/member/motions/${encodeURIComponent(motion)}/proof`);
    const data = new Uint8Array(await response.arrayBuffer());
    proof = { motion, report: await ballot.verifyProof(data, unb64u(stored.node_id), stored.publicRaw) };
    document.body.dataset.checked = proof.report.failed ? "failed" : "true";
    show();
  }

  // --- showing it ------------------------------------------------------------------------------------

  function showMe() {
    const list = clear(document.getElementById("me-list"));
    const add = (key, value) => list.append(el("dt", {}, t(key)), el("dd", {}, value));
    add("member.id", el("code", { dir: "ltr" }, me.member_id));
    add("member.key", el("code", { dir: "ltr" }, me.key));
    add("member.seat", me.mandate ? `${t("council.board.seat")} ${num(me.mandate.seat)}` : t("member.seat.none"));
    add("member.assembly", me.open_assembly
      ? [t("member.assembly.open"), " ", el("code", { dir: "ltr" }, me.open_assembly.slice(0, 10)),
        " — ", t(me.present ? "member.present" : "member.absent")].reduce((p, x) => (p.append(x), p), el("span", {}))
      : t("member.assembly.none"));
    const r = me.requisition;
    add("member.requisitions", `${num(r.count)} / ${num(r.needed)}`);
    document.getElementById("checkin").hidden = !me.open_assembly || me.present;
    document.getElementById("consent").hidden = !me.open_assembly;
  }

  function choiceField(name, type, value, label, id, checked) {
    const input = el("input", { type, name, value, id });
    input.checked = checked.has(id);
    return el("label", { for: id, class: "choice" }, input, " ", label);
  }

  // a candidate as the member knows them: their name (a fellow member's, from the council's own directory),
  // inert and isolated, then their short id, which tells two members of one name apart
  function candidate(id, name) {
    const short = el("code", { dir: "ltr", class: "small" }, id.slice(0, 10));
    if (!name) return short;
    return el("span", { class: "candidate" }, signedText(name), " ", short);
  }

  function showMotions() {
    // what the member had chosen stays chosen when the page is drawn again (language, a refusal, refresh)
    const checked = new Set([...document.querySelectorAll("#motion-list input:checked")].map((i) => i.id));
    const list = clear(document.getElementById("motion-list"));
    document.getElementById("motions-none").hidden = me.open_motions.length > 0;
    me.open_motions.forEach((m) => {
      const i = m.motion_id; // names and ids by the motion, so a choice kept never lands on another motion
      const item = el("li", { "data-motion": m.motion_id },
        el("p", { class: "text" }, signedText(m.text)),
        el("p", { class: "small" }, t(m.kind === "election" ? "member.kind.election" : "member.kind.motion"), " ",
          el("code", { dir: "ltr" }, m.motion_id.slice(0, 10))));
      if (m.voted) {
        item.append(el("p", { class: "voted" }, t("member.voted")));
      } else {
        const form = el("fieldset", { class: "ballot" }, el("legend", {}, t(m.kind === "election" ? "member.approve" : "member.choose")));
        if (m.kind === "election") {
          m.candidates.forEach((c, j) => form.append(
            choiceField(`m${i}`, "checkbox", c, candidate(c, (m.candidate_names || [])[j]), `m${i}-c${j}`, checked)));
        } else {
          for (const c of ["yes", "no", "abstain"]) form.append(choiceField(`m${i}`, "radio", c, t(`tally.${c}`), `m${i}-${c}`, checked));
        }
        const cast = el("button", { type: "button", class: "cast" }, t("member.cast"));
        cast.addEventListener("click", () => act(() => vote(m, form)));
        form.append(cast);
        item.append(form);
      }
      list.append(item);
    });
  }

  function showRecord() {
    const list = clear(document.getElementById("record-list"));
    for (const e of records) {
      const by = e.issued_by;
      let who = t("member.by.root");
      if (by) {
        who = `${t(`role.${by.role}`)} ${(by.member || by.key).slice(0, 10)}`;
        if (by.member === stored.member_id) who += ` (${t("member.you")})`;
      }
      const b = e.body;
      const what = b.text || b.agenda || b.choice || b.outcome || "";
      list.append(el("li", { "data-seq": e.seq },
        el("p", { class: "small" }, `${num(e.seq)} · ${page.date(e.ts_ms)} · `, el("code", { dir: "ltr" }, e.kind), ` · ${who}`),
        what ? el("p", { class: "text" }, signedText(what)) : ""));
    }
    document.getElementById("record-more").hidden = records.length === 0 || records[records.length - 1].seq + 1 >= recordSize;
  }

  function showProof() {
    const summary = document.getElementById("check-summary");
    const counted = clear(document.getElementById("check-counted"));
    const steps = clear(document.getElementById("check-steps"));
    if (proof === null) {
      summary.textContent = "";
      summary.className = "";
      return;
    }
    const r = proof.report;
    summary.className = r.failed ? "fail" : "pass";
    summary.textContent = r.failed ? `${t("verify.failed")} ${t(`step.${r.failed}`)} (${r.failed})` : t("member.check.ok");
    if (r.counted) {
      const c = r.counted;
      const list = el("dl", {});
      const add = (key, value) => list.append(el("dt", {}, t(key)), el("dd", {}, value));
      add("member.check.yours", c.choice === null
        ? `${t("tally.approvals")}: ${c.approvals.map((a) => a.slice(0, 10)).join(", ") || "—"}`
        : t(`tally.${c.choice}`));
      add("decision.outcome", el("span", { class: "outcome" }, t(`outcome.${c.outcome}`)));
      add("decision.tally", page.tally(jsonable(c.tally)));
      add("verify.decision", el("a", { href: `decision?id=${encodeURIComponent(c.decision)}` }, c.decision.slice(0, 10)));
      counted.append(list);
    }
    for (const s of r.steps) {
      const verdict = { pass: "verify.pass", fail: "verify.fail", skipped: "verify.skipped" }[s.status];
      steps.append(el("li", { class: s.status, "data-step": s.step },
        el("span", { class: "verdict" }, t(verdict)), " — ", el("span", {}, t(`step.${s.step}`)),
        el("br", {}), el("small", { dir: "ltr" }, s.detail)));
    }
  }

  // a decoded value as the JSON routes give it (maps as objects, bytes as base64url)
  function jsonable(v) {
    if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, jsonable(x)]));
    if (v instanceof Uint8Array) return b64u(v);
    if (Array.isArray(v)) return v.map(jsonable);
    return typeof v === "bigint" ? String(v) : v;
  }

  function show() {
    const member = stored !== null && me !== null;
    document.getElementById("redeem").hidden = member;
    for (const id of ["me", "motions", "check", "record"]) document.getElementById(id).hidden = !member;
    showError();
    showNotice();
    if (!member) return;
    showMe();
    showMotions();
    showRecord();
    showProof();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    page.start();
    page.onRender(show);
    document.getElementById("redeem-run").addEventListener("click", () => act(redeem));
    document.getElementById("checkin").addEventListener("click", () => act(checkin));
    document.getElementById("consent").addEventListener("click", () => act(consent));
    document.getElementById("refresh").addEventListener("click", () => act(refresh));
    document.getElementById("check-run").addEventListener("click", () => act(check));
    document.getElementById("record-more").addEventListener("click", () => act(async () => { await more(); show(); }));
    try {
      stored = await keystore.load(keystore.MEMBER);
      if (stored !== null) await refresh();
    } catch (e) {
      shown = e; // the node no longer knows this key (a new one replaced it?): redeem a new invitation
      me = null;
    }
    show();
    document.body.dataset.ready = "true";
  });
})();
