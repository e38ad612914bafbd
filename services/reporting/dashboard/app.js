// The reporting dashboard: asks /reporting/* with the user's bearer token (kept in sessionStorage, never
// in the page) and draws the four gates, the placement register, assessment results, alerts, dossiers and
// the audit timeline. Plain DOM, no framework, no build step.
"use strict";

const API = "/reporting";
const TYPE_ORDER = ["gap_filling", "strength", "docking"];
const GRADE_ORDER = ["excellent", "competent", "basically_competent", "incompetent"];
const LABELS = {
  placement_type: { gap_filling: "补短型", strength: "扬长型", docking: "对接型" },
  grade: { excellent: "优秀", competent: "称职", basically_competent: "基本称职", incompetent: "不称职" },
  team_grade: { excellent: "优秀", good: "良好", average: "一般", poor: "较差" },
};
const state = { token: null, asOf: null, year: null, view: "gates", dossier: null };

// ---- DOM helpers ---------------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}
const main = () => document.getElementById("main");
const both = (label, code) => (label && label !== code ? `${label} ${code}` : String(code ?? ""));

// ---- API -----------------------------------------------------------------------------------------
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  if (state.asOf) q.set("as_of", state.asOf);
  return q.toString();
}

async function api(path, params) {
  const response = await fetch(`${API}${path}?${query(params)}`, { headers: { Authorization: `Bearer ${state.token}` } });
  const body = await response.json();
  if (!response.ok) throw new Error(`${body.title || response.status}: ${body.detail || ""}`);
  return body;
}

async function downloadCsv(path, params, name) {
  const response = await fetch(`${API}${path}?${query({ ...params, format: "csv", limit: null, offset: null })}`,
    { headers: { Authorization: `Bearer ${state.token}` } });
  const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `${name}.csv` });
  document.body.appendChild(link);
  link.click();
  link.remove();
}

// ---- building blocks -----------------------------------------------------------------------------
function metric(key, label, value, warn) {
  return h("div", { class: `metric${warn && value > 0 ? " warn" : ""}` },
    h("span", { class: "number", "data-metric": key }, value ?? "–"), h("span", { class: "label" }, label));
}

function table(id, columns, rows, total) {
  const head = h("tr", {}, columns.map((c) => h("th", {}, c.label)));
  const body = rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class }, cell(c, row)))));
  return h("table", { "data-table": id, "data-total": total ?? rows.length }, h("thead", {}, head), h("tbody", {}, body));
}

function cell(column, row) {
  if (column.render) return column.render(row);
  const value = row[column.key];
  const label = row[`${column.key}_label`];
  if (Array.isArray(value)) return value.join("、");
  if (label && label !== value) return h("span", {}, label, h("small", { class: "code" }, ` ${value}`));
  return value === null || value === undefined ? "" : String(value);
}

function section(title, ...content) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...content);
}

function pagedTable(id, path, columns, params, onOpen) {
  const holder = h("div", { class: "paged" });
  const load = async (offset) => {
    const page = await api(path, { ...params, limit: 20, offset });
    const info = h("span", { class: "pageinfo" },
      page.total ? `第 ${offset + 1}–${offset + page.items.length} 条 · 共 ${page.total} 条` : "无记录 · none");
    const nav = h("div", { class: "pager" },
      h("button", { disabled: offset === 0, onclick: () => load(Math.max(0, offset - 20)) }, "‹ 上一页"), info,
      h("button", { disabled: offset + 20 >= page.total, onclick: () => load(offset + 20) }, "下一页 ›"),
      h("button", { class: "csv", onclick: () => downloadCsv(path, params, id) }, "导出 CSV"));
    holder.replaceChildren(nav, table(id, columns, page.items, page.total));
    if (onOpen) holder.querySelectorAll("tbody tr").forEach((tr, i) => tr.addEventListener("click", () => onOpen(page.items[i])));
  };
  load(0).catch(showError);
  return holder;
}

// ---- views ---------------------------------------------------------------------------------------
const VIEWS = {
  gates: ["四关总览", "Four gates", renderGates],
  placements: ["挂职登记", "Placements", renderPlacements],
  assessments: ["考核结果", "Assessments", renderAssessments],
  alerts: ["预警事项", "Alerts", renderAlerts],
  dossier: ["干部档案", "Dossiers", renderDossiers],
  timeline: ["审计时间线", "Audit timeline", renderTimeline],
};

async function renderGates() {
  const g = await api("/compliance", { year: state.year });
  const s = g.selection, r = g.responsibility, f = g.safeguards, m = g.method.gap_filling;
  const card = (title, sub, ...metrics) => h("div", { class: "gate" }, h("h3", {}, title, h("small", {}, ` ${sub}`)), ...metrics);
  main().append(h("div", { class: "gates" },
    card("选拔关", "selection",
      metric("selection.open", "在途推荐 open nominations", s.open),
      metric("selection.stuck", `滞留超过${s.stuck_days}天 stuck`, s.stuck, true),
      metric("selection.blocked", "资格未通过待特批 blocked", s.blocked, true),
      metric("selection.approved", "党委已审定 approved", s.approved)),
    card("方式关", "method",
      metric("method.total", `${g.year}年挂职人数 placements`, m ? m.total : 0),
      metric("method.gap_filling", "补短型 gap-filling", m ? m.gap_filling : 0),
      metric("method.share", "补短型占比 share", m && m.gap_filling_share !== null ? `${Math.round(m.gap_filling_share * 100)}%` : "–"),
      h("p", { class: `verdict ${m && !m.compliant ? "bad" : "ok"}`, "data-metric": "method.compliant" },
        m ? (m.compliant ? "✓ 以补短型为主 gap-filling is the main type" : "✗ 未以补短型为主 gap-filling is not the main type")
          : "本年无计划 no plan this year")),
    card("责任关", "responsibility",
      metric("responsibility.unsigned_agreements", "责任书未签齐 unsigned agreements", r.unsigned_agreements, true),
      metric("responsibility.overdue_check_ins", "督查逾期 overdue check-ins", r.overdue_check_ins, true),
      metric("responsibility.assessments_not_opened", `${g.year}年未启动考核 not assessed`, r.assessments_not_opened, true),
      metric("responsibility.assessments_not_finalised", "考核未定等次 not finalised", r.assessments_not_finalised, true)),
    card("保障关", "safeguards",
      metric("safeguards.trainings", `培训 trainings (${f.training_hours}h)`, f.trainings),
      metric("safeguards.running_without_training", "在岗未培训 no training yet", f.running_without_training, true),
      metric("safeguards.rewards", "奖励 rewards", f.rewards), metric("safeguards.penalties", "惩戒 penalties", f.penalties),
      metric("safeguards.promoted", "提拔任用 promoted", f.promoted))));
  const plan = g.method.by_type;
  main().append(section(`${g.year}年计划与实际 · plan vs actual`, Charts.barChart({
    id: "plan-vs-actual", title: `${g.year}年各类型挂职：计划与实际 Plan vs actual by type, ${g.year}`,
    xLabel: "挂职类型 placement type", yLabel: "人数 cadres",
    categories: plan.map((p) => both(LABELS.placement_type[p.placement_type], p.placement_type)),
    series: [{ name: "计划 planned", values: plan.map((p) => p.planned || 0) },
      { name: "实际 actual", values: plan.map((p) => p.actual) }],
  })));
}

async function renderPlacements() {
  const [byType, byUnit, bySender] = await Promise.all([
    api("/placements/summary", { by: "placement_type", year: state.year }),
    api("/placements/summary", { by: "host_unit,placement_type", year: state.year }),
    api("/placements/summary", { by: "sending_unit,placement_type", year: state.year })]);
  const types = TYPE_ORDER.filter((t) => byType.items.some((r) => r.placement_type === t));
  const typeChart = Charts.barChart({
    id: "placements-by-type", title: `${state.year}年挂职人数（按类型）Placements by type`,
    xLabel: "挂职类型 placement type", yLabel: "人数 cadres",
    categories: types.map((t) => both(LABELS.placement_type[t], t)),
    series: [{ name: "人数 cadres", values: types.map((t) => byType.items.find((r) => r.placement_type === t).placements) }],
  });
  const unitChart = (rows, key, id, title, axis) => {
    const units = [...new Set(rows.items.map((r) => r[key]))];
    return Charts.barChart({ id, title, horizontal: true, stacked: true, xLabel: "人数 cadres", yLabel: axis,
      categories: units,
      series: TYPE_ORDER.map((t) => ({ name: both(LABELS.placement_type[t], t),
        values: units.map((u) => (rows.items.find((r) => r[key] === u && r.placement_type === t) || {}).placements || 0) })) });
  };
  main().append(h("div", { class: "charts" }, typeChart,
    unitChart(byUnit, "host_unit", "placements-by-host", `${state.year}年按接收单位 Placements by host unit`, "接收单位 host unit"),
    unitChart(bySender, "sending_unit", "placements-by-sender", `${state.year}年按派出单位 Placements by sending unit`,
      "派出单位 sending unit")));
  main().append(section("挂职登记 · placement register", pagedTable("placements", "/placements", [
    { key: "placement_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
    { key: "placement_type", label: "类型 type" }, { key: "sending_unit", label: "派出单位 sending" },
    { key: "host_unit", label: "接收单位 host" }, { key: "host_post", label: "挂任职务 post" },
    { key: "status", label: "状态 status" }, { key: "start_date", label: "开始 start" }, { key: "ends_on", label: "期满 ends" },
    { key: "check_ins", label: "督查 check-ins" }], { year: state.year }, (row) => openDossier(row.cadre_id))));
}

async function renderAssessments() {
  const [grades, teams] = await Promise.all([api("/assessments/grades", { year: state.year }),
    api("/teams/grades", { year: state.year })]);
  const rows = grades.items;
  const categories = rows.map((r) => `${r.unit} ${r.year} ${r.kind_label || r.kind}`);
  const withheld = rows.reduce((n, r) => n + r.groups_withheld, 0);
  main().append(h("div", { class: "charts" },
    Charts.barChart({ id: "final-grades", title: `${state.year}年考核等次分布（按接收单位）Final grades by host unit`,
      horizontal: true, stacked: true, xLabel: "人数 cadres", yLabel: "接收单位 host unit", categories,
      series: GRADE_ORDER.map((g) => ({ name: both(LABELS.grade[g], g), values: rows.map((r) => r[g]) })) }),
    Charts.barChart({ id: "ballots", title: `${state.year}年民主测评票数（达到最低人数的测评组）Democratic ballots`,
      xLabel: "等次 grade", yLabel: "票数 ballots", categories: GRADE_ORDER.map((g) => both(LABELS.grade[g], g)),
      series: [{ name: "票数 ballots", values: GRADE_ORDER.map((g) => rows.reduce((n, r) => n + r[`ballots_${g}`], 0)) }] }),
    Charts.barChart({ id: "team-grades", title: `${state.year}年领导班子考核等次 Team grades`, xLabel: "等次 grade",
      yLabel: "班子数 teams", categories: ["excellent", "good", "average", "poor"].map((g) => both(LABELS.team_grade[g], g)),
      series: [{ name: "班子 teams", values: ["excellent", "good", "average", "poor"].map((g) =>
        teams.items.filter((t) => t.team_grade === g).reduce((n, t) => n + t.teams, 0)) }] })));
  main().append(h("p", { class: "note", "data-metric": "grades.withheld" },
    `少于最低人数的测评组不计入：${withheld} 个测评组未显示 · rater groups below the minimum count withheld: ${withheld}`));
  main().append(section("考核结果 · assessment results", pagedTable("assessments", "/assessments", [
    { key: "cadre_name", label: "干部 cadre" }, { key: "year", label: "年度 year" }, { key: "kind", label: "类别 kind" },
    { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" },
    { key: "final_grade", label: "等次 grade" }, { key: "composite", label: "综合分 composite" },
    { key: "warnings", label: "预警 warnings" }], { year: state.year }, (row) => openDossier(row.cadre_id))));
  main().append(section("领导班子综合考核 · team results", pagedTable("teams", "/teams", [
    { key: "campaign_id", label: "考核 campaign" }, { key: "unit", label: "单位 unit" },
    { key: "team_grade", label: "等次 grade" }, { key: "composite", label: "综合分 composite" },
    { key: "qualitative", label: "定性 qualitative" }, { key: "quantitative", label: "定量 quantitative" }],
  { year: state.year })));
}

async function renderAlerts() {
  const placementColumns = [{ key: "placement_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
    { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" }];
  main().append(
    section("督查逾期 · overdue check-ins", pagedTable("overdue", "/compliance/overdue-check-ins", [...placementColumns,
      { key: "last_check_in_on", label: "上次督查 last check-in" }, { key: "days_without_check_in", label: "天数 days" },
      { key: "overdue_raised_on", label: "预警日期 raised" }], {}, (row) => openDossier(row.cadre_id))),
    section("责任书未签齐 · agreements not fully signed", pagedTable("unsigned", "/compliance/unsigned-agreements",
      [...placementColumns, { key: "missing_signatures", label: "未签方 missing" }], {}, (row) => openDossier(row.cadre_id))),
    section("推荐滞留（30天以上）· nominations stuck 30+ days", pagedTable("stuck", "/compliance/stuck-nominations", [
      { key: "nomination_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
      { key: "sending_unit", label: "派出单位 sending" }, { key: "status", label: "状态 status" },
      { key: "pending_step", label: "待办环节 step" }, { key: "days_at_step", label: "天数 days" }], { stuck_days: 30 },
    (row) => openDossier(row.cadre_id))),
    section(`${state.year}年未完成年度考核 · running without ${state.year} assessment`, pagedTable("missing",
      "/compliance/missing-assessments", [...placementColumns, { key: "assessment_status", label: "考核状态 assessment" }],
      { year: state.year }, (row) => openDossier(row.cadre_id))));
}

async function renderDossiers() {
  if (state.dossier) return renderDossier(state.dossier);
  const search = h("input", { type: "search", placeholder: "姓名或编号 name or id", id: "cadre-search" });
  const results = h("div", {});
  const find = () => results.replaceChildren(pagedTable("cadres", "/cadres", [
    { key: "cadre_id", label: "编号 id" }, { key: "name", label: "姓名 name" }, { key: "rank", label: "职级 rank" },
    { key: "home_unit", label: "所在单位 unit" }, { key: "placements", label: "挂职 placements" }],
  { q: search.value }, (row) => openDossier(row.cadre_id)));
  search.addEventListener("change", find);
  main().append(section("干部档案 · cadre dossiers", h("div", { class: "filters" }, search,
    h("button", { onclick: find }, "查找 find")), results));
  find();
}

async function renderDossier(cadreId) {
  const d = await api(`/cadres/${encodeURIComponent(cadreId)}/dossier`, {});
  const c = d.cadre || { cadre_id: cadreId, name: "（未登记 not registered）" };
  main().append(h("div", { class: "dossier-head" },
    h("button", { onclick: () => { state.dossier = null; show("dossier"); } }, "‹ 返回 back"),
    h("h2", { "data-metric": "dossier.name" }, `${c.name} `, h("small", {}, c.cadre_id)),
    h("p", {}, `${c.rank_label || ""} ${c.rank || ""} · ${c.home_unit || ""} · ${c.reserve_cadre ? "后备干部 reserve cadre" : ""}`)));
  main().append(section("推荐 · nominations", table("dossier-nominations", [{ key: "nomination_id", label: "编号 id" },
    { key: "status", label: "状态 status" }, { key: "placement_type", label: "类型 type" }, { key: "host_unit", label: "接收单位 host" },
    { key: "decision_ref", label: "审定文号 decision" }], d.nominations)));
  main().append(section("挂职 · placements", table("dossier-placements", [{ key: "placement_id", label: "编号 id" },
    { key: "placement_type", label: "类型 type" }, { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" },
    { key: "started_on", label: "开始 start" }, { key: "outcome", label: "结果 outcome" }], d.placements)));
  main().append(section("考核 · assessments", table("dossier-assessments", [{ key: "year", label: "年度 year" },
    { key: "kind", label: "类别 kind" }, { key: "status", label: "状态 status" }, { key: "final_grade", label: "等次 grade" }],
  d.assessments)));
  main().append(section(`经历 · what happened (${d.total})`, h("ol", { class: "events", "data-total": d.total },
    d.items.map((e) => h("li", {}, h("time", {}, e.recorded_at.replace("T", " ").slice(0, 19)),
      h("strong", {}, e.type_label || e.type), h("small", { class: "code" }, ` ${e.type}`),
      h("span", { class: "who" }, ` · ${e.actor_principal || ""} (${e.actor_role || ""}${e.actor_unit ? ", " + e.actor_unit : ""})`),
      e.reason ? h("span", { class: "why" }, ` · ${e.reason}`) : null)))));
}

function openDossier(cadreId) {
  if (!cadreId) return;
  state.dossier = cadreId;
  show("dossier");
}

async function renderTimeline() {
  const fields = ["cadre_id", "unit", "actor", "type", "correlation_id"].map((name) =>
    h("input", { name, placeholder: name, class: "filter" }));
  const results = h("div", {});
  const run = () => {
    const params = Object.fromEntries(fields.map((f) => [f.name, f.value.trim()]));
    results.replaceChildren(pagedTable("timeline", "/timeline", [
      { key: "recorded_at", label: "时间 recorded", render: (e) => e.recorded_at.replace("T", " ").slice(0, 19) },
      { key: "type", label: "事件 event" }, { key: "cadre_id", label: "干部 cadre" },
      { key: "actor_principal", label: "操作人 actor" }, { key: "actor_role", label: "角色 role" },
      { key: "reason", label: "原因 reason" }, { key: "correlation_id", label: "关联 correlation" }], params,
    (row) => openDossier(row.cadre_id)));
  };
  main().append(section("审计时间线 · audit timeline", h("div", { class: "filters" }, fields,
    h("button", { onclick: run }, "筛选 filter")), results));
  run();
}

// ---- shell -----------------------------------------------------------------------------------------
function showError(error) {
  main().prepend(h("p", { class: "error", role: "alert" }, `无法加载 could not load: ${error.message}`));
}

async function show(view) {
  state.view = view;
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
  main().replaceChildren();
  main().dataset.view = view;
  main().dataset.ready = "false";
  try {
    await VIEWS[view][2]();
  } catch (error) {
    showError(error);
  }
  main().dataset.ready = "true";
}

async function chooseYear() {
  const years = await api("/placements/summary", { by: "year" });
  const known = years.items.map((r) => r.year).filter(Boolean);
  const select = document.getElementById("year");
  const all = [...new Set([...known, new Date().getFullYear()])].sort();
  select.replaceChildren(...all.map((y) => h("option", { value: y }, `${y}年`)));
  state.year = known.length ? Math.max(...known) : new Date().getFullYear();
  select.value = String(state.year);
}

function askForToken() {
  const input = h("input", { type: "password", id: "token-input", placeholder: "dev-auditor" });
  main().replaceChildren(section("请输入令牌 · sign in with a token", h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem("reporting-token", input.value.trim());
    start();
  } }, input, h("button", { type: "submit" }, "进入 enter"))));
  main().dataset.ready = "true";
}

async function start() {
  const url = new URL(window.location.href);
  if (url.searchParams.get("token")) {
    sessionStorage.setItem("reporting-token", url.searchParams.get("token"));
    url.searchParams.delete("token");
    history.replaceState(null, "", url.toString());
  }
  setAsOf(url.searchParams.get("as_of"));
  state.token = sessionStorage.getItem("reporting-token");
  if (!state.token) return askForToken();
  try {
    await chooseYear();
  } catch (error) {
    sessionStorage.removeItem("reporting-token");
    askForToken();
    return showError(error);
  }
  show(state.view);
}

function wireShell() {
  const nav = document.querySelector("nav");
  for (const [key, [zh, en]] of Object.entries(VIEWS)) {
    nav.appendChild(h("button", { "data-view": key, onclick: () => { if (key === "dossier") state.dossier = null; show(key); } },
      zh, h("small", {}, ` ${en}`)));
  }
  document.getElementById("year").addEventListener("change", (e) => { state.year = Number(e.target.value); show(state.view); });
  document.getElementById("as-of-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const value = document.getElementById("as-of").value;
    setAsOf(value ? new Date(value).toISOString() : null);
    const url = new URL(window.location.href);  // the address names the moment: a link shows the same view
    if (state.asOf) url.searchParams.set("as_of", state.asOf);
    else url.searchParams.delete("as_of");
    history.replaceState(null, "", url.toString());
    show(state.view);
  });
  document.getElementById("as-of-now").addEventListener("click", () => {
    document.getElementById("as-of").value = "";
    document.getElementById("as-of-form").requestSubmit();
  });
}

// The moment every view describes: null for now, else an ISO time (from the form or the page's ?as_of=).
function setAsOf(iso) {
  const moment = iso ? new Date(iso) : null;
  const valid = moment && !Number.isNaN(moment.getTime());
  state.asOf = valid ? moment.toISOString() : null;
  const local = valid ? new Date(moment.getTime() - moment.getTimezoneOffset() * 60000).toISOString().slice(0, 19) : "";
  document.getElementById("as-of").value = local;
  document.getElementById("as-of-label").textContent = valid ? `截至 as of ${local.replace("T", " ")}` : "当前 now";
}

wireShell();
start();
