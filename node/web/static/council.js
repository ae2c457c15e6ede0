// The council's public page: profile, charter (Persian authoritative, English beside it), board with the
// decision behind each mandate, public decisions with their tallies, the rules in force. Everything read from
// the public JSON routes and inserted as text (page.js). A classic script.
(() => {
  const { page } = globalThis.shora;
  const { t, num, date, el, signedText, clear } = page;

  function decisionLink(id, label) {
    return el("a", { href: `decision?id=${encodeURIComponent(id)}` }, label);
  }

  function row(list, key, value) {
    list.append(el("dt", {}, t(key)), el("dd", {}, value));
  }

  function quorum(q) {
    if (q === null || q === undefined) return t("quorum.none");
    if ("count" in q) return num(q.count);
    if ("fraction" in q) return `${num(q.fraction[0])}/${num(q.fraction[1])}`;
    return JSON.stringify(q);
  }

  function rulesValue(key, value) {
    if (key === "majority") return t(`majority.${value}`);
    if (key === "quorum") return quorum(value);
    if (typeof value === "boolean") return t(value ? "yes" : "no");
    if (typeof value === "number") return num(value);
    return Array.isArray(value) ? value.join(", ") : String(value);
  }

  function show(data) {
    const { node, charter, board, decisions, rules } = data;
    const profile = node.profile || {};
    const name = page.lang === "fa" && profile.name_fa ? profile.name_fa : profile.name;
    clear(document.getElementById("name")).append(signedText(name || ""));
    document.title = name || t("site.title");

    const list = clear(document.getElementById("profile-list"));
    for (const [key, field] of [["council.city", "city"], ["council.country", "country"], ["council.continent", "continent"]]) {
      row(list, key, signedText(profile[field] || ""));
    }
    if (page.lang === "fa" && profile.name) row(list, "council.profile", signedText(profile.name));
    if (page.lang === "en" && profile.name_fa) row(list, "council.profile", signedText(profile.name_fa));
    document.getElementById("council-key").textContent = node.id;

    for (const lang of ["fa", "en"]) {
      const ol = clear(document.getElementById(`charter-${lang}`));
      for (const principle of charter[lang]) ol.append(el("li", {}, signedText(principle)));
    }
    document.getElementById("charter-hash").textContent = charter.hash;

    document.getElementById("board-summary").textContent =
      `${t("council.board.seats")}: ${num(board.seats)} · ${t("council.board.vacancies")}: ${num(board.vacancies)}`;
    const seats = clear(document.getElementById("board-list"));
    if (board.mandates.length === 0) seats.append(el("li", {}, t("council.board.none")));
    for (const m of board.mandates) {
      seats.append(el("li", {},
        el("span", {}, `${t("council.board.seat")} ${num(m.seat)} · ${t("council.board.member")} `),
        el("code", { dir: "ltr" }, m.member.slice(0, 10)), " · ",
        decisionLink(m.decision, t("council.board.decision"))));
    }

    const items = clear(document.getElementById("decision-list"));
    if (decisions.length === 0) items.append(el("li", {}, t("council.decisions.none")));
    for (const d of decisions) {
      const outcome = t(`outcome.${d.outcome}`);
      items.append(el("li", { class: "decision" },
        el("p", { class: "text" }, signedText(d.text || "")),
        el("p", {}, el("span", { class: `outcome ${d.outcome}` }, outcome), " · ", page.tally(d.tally)),
        el("p", { class: "small" }, date(d.ts_ms), " · ", decisionLink(d.decision_id, t("decision.verify")))));
    }

    const rl = clear(document.getElementById("rules-list"));
    row(rl, "council.rules.version", num(rules.version));
    for (const [key, value] of Object.entries(rules.rules)) row(rl, `rules.${key}`, rulesValue(key, value));
  }

  async function load() {
    const [node, charter, board, decisions, rules] = await Promise.all([
      page.getJson("/v1/node"), page.getJson("/v1/charter"), page.getJson("/v1/board"),
      page.getJson("/v1/decisions"), page.getJson("/v1/rules"),
    ]);
    return { node, charter, board, decisions: decisions.decisions, rules };
  }

  page.boot(load, show);
})();
