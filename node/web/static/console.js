// The assembly console (issue 15): a sitting board member chairs the assembly from the browser, with their own
// member key (keystore.js, non-extractable, under "member"), every request signed by signing.js: convene, the
// roll call (members present in the room; those online check in from their phones), motions (policy, rules,
// election, recall, removal), hands counted in the room, the live tally as ballots arrive, closing motions
// (a tie opens its runoff) and the assembly with its minutes. The picture comes from
// GET /v1/member/board/assembly and then from the live stream GET /v1/member/board/live, read with a signed
// fetch and a streamed body reader (EventSource cannot sign). Every signed text is inserted inert (page.js);
// the rules' refusals are shown in words, in both languages. A classic script.
(() => {
  const { page, keystore, signing, verify } = globalThis.shora;
  const { t, num, date, el, signedText, clear, onRender } = page;
  const BOARD = "/v1/member/board";
  let keys = null; // {privateKey, publicRaw, member_id, ...}
  let recipient = null; // this node's id (bytes): every signed request names it
  let picture = null; // the last picture the node sent
  let streamState = "connecting";
  let lastError = null; // {code, message}

  const byId = (id) => document.getElementById(id);
  const nameOf = (id) => {
    const m = picture && picture.members.find((p) => p.member_id === id);
    return m && m.name ? m.name : String(id).slice(0, 10);
  };

  // A refusal in words: the rules' code looked up in this language; a code without words shows the node's
  // own message beside it, so nothing is ever hidden.
  function refusalText(err) {
    const known = page.t(`error.${err.code}`);
    if (known !== `error.${err.code}`) return err.code === "bad-field" ? `${known} ${err.message}` : `${known} (${err.code})`;
    return `${t("console.refused")} ${err.code}: ${err.message}`;
  }

  function showError() {
    const box = byId("error");
    box.hidden = lastError === null;
    box.textContent = lastError === null ? "" : refusalText(lastError);
  }

  function fail(err) {
    lastError = err;
    showError();
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      return { code: String(body.error), message: String(body.message), status: response.status };
    } catch (e) {
      return { code: `http-${response.status}`, message: response.statusText, status: response.status };
    }
  }

  // A signed request to this node; the answer's JSON, or null after showing the refusal.
  async function call(method, path, value) {
    let response;
    try {
      response = await signing.call(keys, recipient, method, path, value);
    } catch (e) {
      fail({ code: "network", message: String(e.message || e) });
      return null;
    }
    if (!response.ok) {
      fail(await errorOf(response));
      return null;
    }
    lastError = null;
    showError();
    return response.json();
  }

  async function act(method, path, value) {
    const done = await call(method, path, value);
    if (done !== null) {
      // drawn after the act, this picture may still arrive after a newer one the stream brought: not shown
      // then, or the tally would go back and stay there (the stream sends nothing until the record grows)
      const fresh = await call("GET", `${BOARD}/assembly`);
      if (fresh !== null && !(picture && fresh.seq < picture.seq)) show(fresh);
    }
    return done;
  }

  // --- what the console shows ------------------------------------------------------------------------------

  function facts(a) {
    const list = clear(byId("assembly-facts"));
    const row = (key, value) => list.append(el("dt", {}, t(key)), el("dd", {}, value));
    row("console.agenda", signedText(a.agenda || ""));
    row("console.status", t(a.open ? "console.open" : "console.closed"));
    row("console.opened", date(a.opened_ts_ms));
    row("console.present", num(a.present));
    row("console.participants", num(a.participants));
    if (a.minutes) row("console.minutes", signedText(a.minutes));
  }

  function rollCall(a) {
    const list = clear(byId("roll-list"));
    for (const m of picture.members) {
      const name = m.name || String(m.member_id).slice(0, 10);
      const status = el("span", { class: m.present ? "present" : "absent" }, t(m.present ? "console.is-present" : "console.is-absent"));
      const item = el("li", { "data-member": m.member_id }, signedText(name), " — ", status);
      if (a.open) {
        const button = el("button", { type: "button", "aria-label": `${t(m.present ? "console.depart" : "console.attend")}: ${name}` },
          t(m.present ? "console.depart" : "console.attend"));
        button.addEventListener("click", () => m.present
          ? act("POST", `${BOARD}/assemblies/${a.assembly_id}/depart`, { member: m.member_id })
          : act("POST", `${BOARD}/assemblies/${a.assembly_id}/attend`, { members: [m.member_id] }));
        item.append(" ", button);
      }
      list.append(item);
    }
  }

  function tallyText(motion) {
    const tl = motion.tally;
    if (Array.isArray(tl.approvals)) {
      return tl.approvals.map((c) => `${nameOf(c.member_id)}: ${num(c.count)}`).join(" · ");
    }
    return ["yes", "no", "abstain"].map((k) => `${t(`tally.${k}`)} ${num(tl[k])}`).join(" · ");
  }

  // a hand counted in the room: a present member's vote, recorded by the chair — yes, no or abstain on a
  // motion, the candidates they approve in an election. Offered for the members whose hand the rules let the
  // chair count: present, and without a key where the rules want a member's own signed ballot on this kind.
  function handForm(motion) {
    const id = `hand-${motion.motion_id}`;
    const election = Array.isArray(motion.tally.approvals);
    const signed = (picture.signed_ballots || []).includes(motion.kind);
    const hands = picture.members.filter((p) => p.present && !(signed && p.keyed));
    if (!hands.length) return el("p", { class: "small hand-none" }, t("console.hand.none"));
    const who = el("select", { id: `${id}-member` });
    for (const m of hands) who.append(el("option", { value: m.member_id }, m.name || m.member_id));
    let choice;
    if (election) {
      // each candidate a checkbox named by the candidate's name (inert, isolated)
      choice = el("fieldset", { class: "hand-approvals" }, el("legend", {}, t("console.hand.approvals")));
      motion.candidates.forEach((c, j) => {
        const box = `${id}-c${j}`;
        choice.append(el("div", { class: "check" }, el("input", { type: "checkbox", id: box, value: c }),
          el("label", { for: box }, signedText(nameOf(c)))));
      });
    } else {
      choice = el("select", { id: `${id}-choice` });
      for (const c of ["yes", "no", "abstain"]) choice.append(el("option", { value: c }, t(`tally.${c}`)));
    }
    const button = el("button", { type: "submit" }, t("console.hand.do"));
    const form = el("form", { class: "inline hand" }, el("label", { for: who.id }, t("console.hand.member")), who);
    if (election) form.append(choice, button);
    else form.append(el("label", { for: choice.id }, t("console.hand.choice")), choice, button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const path = `${BOARD}/motions/${motion.motion_id}/votes`;
      if (!election) {
        act("POST", path, { member: who.value, choice: choice.value });
        return;
      }
      const approvals = [...choice.querySelectorAll("input:checked")].map((i) => i.value);
      act("POST", path, { member: who.value, approvals }).then((done) => {
        // recorded: the next voter's hands start from none (the picture drawn since kept the boxes ticked)
        if (done !== null) {
          motion.candidates.forEach((c, j) => {
            const box = byId(`${id}-c${j}`);
            if (box) box.checked = false;
          });
        }
      });
    });
    return form;
  }

  function motionCard(motion) {
    const item = el("li", { "data-motion": motion.motion_id, class: "motion" });
    const kind = t(`kind.${motion.kind}`);
    item.append(el("p", {}, el("strong", {}, motion.runoff_of ? `${kind} — ${t("console.runoff")}` : kind)));
    item.append(el("p", { class: "text" }, signedText(motion.text)));
    if (motion.target) item.append(el("p", {}, `${t("console.target")}: `, signedText(nameOf(motion.target))));
    if (motion.seats) item.append(el("p", {}, `${t("console.seats")}: ${num(motion.seats)}`));
    const ballots = motion.electorate === null ? num(motion.voters) : `${num(motion.voters)} / ${num(motion.electorate)}`;
    item.append(el("p", { class: "tally", "aria-live": "polite" }, `${t("console.ballots")}: ${ballots} — ${tallyText(motion)}`));
    if (motion.status === "open") {
      const close = el("button", { type: "button", class: "close-motion" }, t("console.close-motion"));
      close.addEventListener("click", () => act("POST", `${BOARD}/motions/${motion.motion_id}/close`));
      item.append(handForm(motion));
      item.append(close);
    } else {
      const outcome = el("p", { class: "outcome" }, `${t("decision.outcome")}: ${t(`outcome.${motion.outcome}`)}`);
      item.append(outcome);
      if (motion.elected.length) {
        item.append(el("p", {}, `${t("outcome.elected")}: `, ...motion.elected.map((s) => signedText(nameOf(s.member)))));
      }
      if (motion.visibility === "public") {
        item.append(el("p", {}, el("a", { href: `decision?id=${encodeURIComponent(motion.decision_id)}`, class: "decision-link" }, t("console.decision"))));
      } else {
        item.append(el("p", { class: "small" }, t("console.decision.council")));
      }
    }
    return item;
  }

  function proposeChoices() {
    const kind = byId("motion-kind").value;
    byId("for-election").hidden = kind !== "election";
    byId("for-target").hidden = kind !== "recall" && kind !== "removal";
    byId("for-rules").hidden = kind !== "rules";
    const candidates = clear(byId("motion-candidates"));
    const target = clear(byId("motion-target"));
    if (!picture) return;
    for (const m of picture.members) {
      const id = `cand-${m.member_id}`;
      candidates.append(el("div", { class: "check" }, el("input", { type: "checkbox", id, value: m.member_id }),
        el("label", { for: id }, m.name || m.member_id)));
      if (kind === "removal" || m.board) target.append(el("option", { value: m.member_id }, m.name || m.member_id));
    }
  }

  function show(next) {
    picture = next;
    const a = picture.assembly;
    const sitting = a !== null && a.open;
    const me = picture.members.find((p) => p.member_id === keys.member_id);
    clear(byId("who")).append(`${t("console.acting")} `, signedText(me && me.name ? me.name : keys.member_id),
      ` — ${t(me && me.board ? "console.board" : "console.not-board")}`);
    byId("convene").hidden = sitting;
    for (const id of ["assembly", "roll", "motions"]) byId(id).hidden = a === null;
    for (const id of ["propose", "close"]) byId(id).hidden = !sitting;
    if (a !== null) {
      // a ballot arriving must not undo what the chair is choosing: the motions' controls keep their values
      // and the focus across the new picture
      const focused = document.activeElement && document.activeElement.id;
      const chosen = [...byId("motion-list").querySelectorAll("select")].map((s) => [s.id, s.value]);
      const ticked = [...byId("motion-list").querySelectorAll("input[type=checkbox]:checked")].map((i) => i.id);
      facts(a);
      rollCall(a);
      const list = clear(byId("motion-list"));
      for (const motion of a.motions) list.append(motionCard(motion));
      if (!a.motions.length) list.append(el("li", { class: "small" }, t("console.no-motions")));
      for (const [id, value] of chosen) {
        const again = byId(id);
        if (again && [...again.options].some((o) => o.value === value)) again.value = value;
      }
      for (const id of ticked) {
        const again = byId(id);
        if (again) again.checked = true;
      }
      if (focused && byId(focused) && document.activeElement !== byId(focused)) byId(focused).focus();
    }
    proposeChoices();
    document.body.dataset.ready = "true";
  }

  function showLive() {
    byId("live").textContent = t(`console.live.${streamState}`);
    document.body.dataset.live = streamState;
  }

  // --- the forms ---------------------------------------------------------------------------------------------

  function forms() {
    byId("convene-form").addEventListener("submit", (event) => {
      event.preventDefault();
      act("POST", `${BOARD}/assemblies`, { agenda: byId("agenda").value });
    });
    byId("motion-kind").addEventListener("change", proposeChoices);
    byId("propose-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = byId("motion-kind").value;
      const value = {
        assembly: picture.assembly.assembly_id, kind, text: byId("motion-text").value, visibility: byId("motion-visibility").value,
      };
      if (kind === "election") {
        value.seats = Number(byId("motion-seats").value);
        value.candidates = [...byId("motion-candidates").querySelectorAll("input:checked")].map((i) => i.value);
      }
      if (kind === "recall" || kind === "removal") value.target = byId("motion-target").value;
      if (kind === "rules") {
        const rules = {};
        if (byId("rules-majority").value) rules.majority = byId("rules-majority").value;
        if (byId("rules-seats").value !== "") rules.board_seats = Number(byId("rules-seats").value);
        value.rules = rules;
      }
      act("POST", `${BOARD}/motions`, value).then((done) => {
        if (done !== null) byId("motion-text").value = "";
      });
    });
    byId("close-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = { minutes: byId("minutes").value || null };
      if (byId("next-date").value) value.next_ms = Date.parse(`${byId("next-date").value}T00:00:00Z`);
      act("POST", `${BOARD}/assemblies/${picture.assembly.assembly_id}/close`, value);
    });
  }

  // --- the live stream -------------------------------------------------------------------------------------

  const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

  function onEvent(block) {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (line.startsWith("event: ")) name = line.slice(7);
      else if (line.startsWith("data: ")) data.push(line.slice(6));
    }
    if (name === "assembly" && data.length) show(JSON.parse(data.join("\n")));
  }

  async function follow() {
    for (let wait = 1000; ; wait = Math.min(wait * 2, 30000)) {
      let response = null;
      try {
        response = await signing.call(keys, recipient, "GET", `${BOARD}/live`);
      } catch (e) {
        response = null;
      }
      if (response !== null && !response.ok) {
        const err = await errorOf(response);
        fail(err);
        if (err.status === 403) {
          streamState = "ended";
          showLive();
          return;
        }
      } else if (response !== null) {
        streamState = "on";
        showLive();
        wait = 1000;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        try {
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            for (let at = buffer.indexOf("\n\n"); at >= 0; at = buffer.indexOf("\n\n")) {
              onEvent(buffer.slice(0, at));
              buffer = buffer.slice(at + 2);
            }
          }
        } catch (e) {
          // the connection dropped: connect again below
        }
      }
      streamState = "again";
      showLive();
      await pause(wait);
    }
  }

  async function start() {
    page.start();
    onRender(() => {
      showLive();
      showError();
      if (picture) show(picture);
    });
    keys = await keystore.load(keystore.MEMBER);
    if (keys === null) {
      fail({ code: "console.no-key", message: "no member key in this browser" });
      document.body.dataset.ready = "true";
      return;
    }
    const node = await page.getJson("/v1/node");
    recipient = verify.unb64u(node.id);
    forms();
    const first = await call("GET", `${BOARD}/assembly`);
    if (first === null) {
      document.body.dataset.ready = "true";
      return;
    }
    show(first);
    follow();
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((e) => fail({ code: "network", message: String(e.message || e) }));
  });
})();
