// A federation body's public page: its profile, its councils by continent and country (a continent's
// include those of its country federations), each council's delegates, and the federation-wide proposals
// with every council's answer and the signed result. Everything read from the public JSON routes
// (docs/http.md, "A federation body's public routes") and inserted as text (page.js). A classic script.
(() => {
  const { page } = globalThis.shora;
  const { t, num, date, el, signedText, clear } = page;
  const SHOWN = 20; // proposals on the page, newest first, each with its answers

  // a council's or federation's name in the page's language (the other when that one is empty)
  function named(who) {
    const name = page.lang === "fa" && who.name_fa ? who.name_fa : who.name || who.name_fa || "";
    return signedText(name);
  }

  function row(list, key, value) {
    list.append(el("dt", {}, t(key)), el("dd", {}, value));
  }

  function shortId(id) {
    return el("code", { dir: "ltr" }, String(id).slice(0, 10));
  }

  function showProfile(node, summary) {
    const profile = { ...(node.profile || {}), ...(summary.federation || {}) };
    const title = page.lang === "fa" && profile.name_fa ? profile.name_fa : profile.name;
    clear(document.getElementById("name")).append(signedText(title || ""));
    document.title = title || t("site.title");
    const list = clear(document.getElementById("profile-list"));
    if (profile.level) row(list, "fed.level", t(`fed.level.${profile.level}`));
    if (profile.country) row(list, "council.country", signedText(profile.country));
    row(list, "council.continent", signedText(profile.continent || ""));
    const totals = summary.totals;
    row(list, "fed.totals.councils", num(totals.admitted));
    row(list, "fed.totals.suspended", num(totals.suspended));
    row(list, "fed.totals.members", num(totals.members));
    row(list, "fed.totals.decisions", num(totals.decisions));
    document.getElementById("federation-key").textContent = node.id;
  }

  function councilItem(c) {
    const parts = [named(c)];
    if (c.city) parts.push(" · ", signedText(c.city));
    if (c.members) parts.push(" · ", `${t("fed.members")} ${num(c.members.count)}`);
    if (c.status === "suspended") parts.push(" · ", el("strong", {}, t("fed.suspended")));
    return el("li", { class: "council" }, ...parts);
  }

  function showCouncils(summary) {
    const box = clear(document.getElementById("council-list"));
    const continents = Object.entries(summary.continents);
    if (continents.length === 0) box.append(el("p", {}, t("fed.councils.none")));
    for (const [continent, countries] of continents) {
      const section = el("section", { class: "continent" }, el("h3", {}, signedText(continent)));
      for (const [country, councils] of Object.entries(countries)) {
        section.append(el("h4", {}, signedText(country), ` (${num(councils.length)})`));
        section.append(el("ul", { class: "cards" }, ...councils.map(councilItem)));
      }
      box.append(section);
    }
    const federations = summary.federations || [];
    const heading = document.getElementById("federations-h");
    const list = clear(document.getElementById("federation-list"));
    heading.hidden = list.hidden = federations.length === 0;
    for (const f of federations) {
      list.append(el("li", {}, named(f), " · ", signedText(f.country || ""), " · ", t(`fed.status.${f.status}`)));
    }
  }

  function showDelegates(delegates) {
    const list = clear(document.getElementById("delegate-list"));
    const councils = delegates.councils.filter((c) => c.delegates.length > 0);
    if (councils.length === 0) list.append(el("li", {}, t("fed.delegates.none")));
    for (const c of councils) {
      const seats = c.delegates.map((d) => el("li", {},
        `${t("council.board.seat")} ${num(d.seat)} · ${t("council.board.decision")} `, shortId(d.decision),
        " · ", date(d.ts_ms)));
      list.append(el("li", {}, el("p", {}, named(c), ` — ${num(c.delegates.length)} ${t("fed.delegates.count")}`),
        el("ul", {}, ...seats)));
    }
  }

  function answerItem(a) {
    const parts = [named(a), " · ", el("span", { class: `outcome ${a.outcome}` }, t(`outcome.${a.outcome}`)),
      " · ", `${t("fed.participants")} ${num(a.participants)}`];
    if (a.received_ms !== null && a.received_ms !== undefined) parts.push(" · ", `${t("fed.received")} `, date(a.received_ms));
    if (a.reason) parts.push(" · ", `${t("fed.refused")}: ${t(`fed.reason.${a.reason}`)}`);
    parts.push(" · ", t("council.board.decision"), " ", shortId(a.decision));
    if (a.verify_url) parts.push(" · ", el("a", { href: a.verify_url }, t("decision.verify")));
    return el("li", {}, ...parts);
  }

  function resultBlock(p) {
    const r = p.result;
    const totals = r.totals;
    const block = el("div", { class: "result" },
      el("p", {}, `${t("fed.result")}: `, el("span", { class: `outcome ${r.result}` }, t(`outcome.${r.result}`)),
        ` · ${t("fed.totals.admitted")} ${num(totals.admitted)} · ${t("fed.totals.answered")} ${num(totals.answered)}`,
        ` · ${t("tally.yes")} ${num(totals.adopted)} · ${t("tally.no")} ${num(totals.rejected)}`),
      el("p", { class: "small" }, `${t("fed.result.date")} `, date(r.ts_ms)));
    if (r.not_heard && r.not_heard.length) {
      block.append(el("p", {}, `${t("fed.notHeard")}: `, ...r.not_heard.flatMap((c, i) => (i ? [", ", named(c)] : [named(c)]))));
    }
    if (r.entry) {
      const v = r.verify;
      block.append(el("p", { class: "small" }, `${t("fed.signed")} `, shortId(r.entry.entry_id),
        ` (${t("fed.seq")} ${num(r.entry.seq)}) · `,
        el("a", { href: v.entry }, t("fed.verify.entry")), " · ",
        el("a", { href: v.inclusion }, t("fed.verify.inclusion")), " · ",
        el("a", { href: v.checkpoint }, t("fed.verify.checkpoint"))));
    }
    return block;
  }

  function proposalItem(p) {
    const item = el("li", { class: "proposal" },
      el("p", { class: "text", lang: "fa" }, signedText(p.text_fa)),
      el("p", { class: "text", lang: "en" }, signedText(p.text_en)),
      el("p", { class: "small" }, `${t("fed.status")}: ${t(`fed.status.${p.status}`)} · ${t("fed.deadline")} `,
        date(p.deadline_ms), ` · ${t("fed.rule")}: ${t(`fed.rule.${p.rule}`)}`));
    if (p.result) item.append(resultBlock(p));
    const answers = [...(p.answers || []), ...(p.refused || [])];
    item.append(el("p", { class: "answers-h" }, p.status === "open" ? t("fed.answers.open") : t("fed.answers")));
    item.append(answers.length ? el("ul", { class: "answers" }, ...answers.map(answerItem)) : el("p", {}, t("fed.answers.none")));
    return item;
  }

  function showProposals(data) {
    const list = clear(document.getElementById("proposal-list"));
    if (data.proposals.length === 0) list.append(el("li", {}, t("fed.proposals.none")));
    for (const p of data.proposals) list.append(proposalItem(p));
    document.getElementById("proposals-shown").textContent = `${num(data.proposals.length)} / ${num(data.total)}`;
    document.getElementById("proposals-older").hidden = data.older === null;
  }

  // a page of proposals, newest first, each with its answers: the newest, or those older than the cursor
  // `before` (the seq the last page ended at: docs/http.md); the next page's cursor, null at the oldest
  async function proposalsPage(before) {
    const cursor = before === null ? "" : `&before=${before}`;
    const listed = await page.getJson(`/v1/federation/proposals?limit=${SHOWN}${cursor}`);
    const proposals = await Promise.all(listed.proposals.map(
      (p) => page.getJson(`/v1/federation/proposals/${encodeURIComponent(p.proposal_id)}`)));
    return { proposals, total: listed.total, older: listed.next_before };
  }

  async function load() {
    const [node, summary, delegates, first] = await Promise.all([
      page.getJson("/v1/node"), page.getJson("/v1/federation/summary"), page.getJson("/v1/federation/delegates"),
      proposalsPage(null),
    ]);
    return { node, summary, delegates, ...first };
  }

  // "older proposals": the next page added below those shown, the focus on its first proposal
  async function older(data) {
    const button = document.getElementById("proposals-older");
    const error = document.getElementById("error");
    button.disabled = true;
    try {
      const next = await proposalsPage(data.older);
      const from = data.proposals.length;
      Object.assign(data, { proposals: data.proposals.concat(next.proposals), total: next.total, older: next.older });
      error.hidden = true;
      showProposals(data);
      const first = document.querySelectorAll("#proposal-list > li")[from];
      if (first) {
        first.setAttribute("tabindex", "-1");
        first.focus();
      }
    } catch (e) {
      error.hidden = false;
      error.textContent = `${t("error.load")} ${e.message}`;
    } finally {
      button.disabled = false;
      document.body.dataset.older = String(Number(document.body.dataset.older || "0") + 1); // pages asked for
    }
  }

  page.boot(load, (data) => {
    showProfile(data.node, data.summary);
    showCouncils(data.summary);
    showDelegates(data.delegates);
    showProposals(data);
    document.getElementById("proposals-older").onclick = () => older(data);
  });
})();
