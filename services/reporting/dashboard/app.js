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
  // the API's labels (labels.py) where an answer lacks its `_label`: roles (services/backbone/domain.py ROLES), …
  role: { organisation_department: "组织部门", sending_unit: "派出单位", host_unit: "接收单位", party_committee: "党委",
    integration: "系统对接", auditor: "审计", third_party_agency: "第三方调查机构", operator: "运维", anonymous: "匿名测评" },
  party: { organisation_department: "组织部门", sending_unit: "派出单位", host_unit: "接收单位" },
  assessment_status: { none: "未启动", open: "进行中", finalised: "已定等次" },
  outcome: { returned: "回原单位", retained: "留任", promoted: "提拔任用" },
  kind: { annual: "下派年度考核", end_of_term: "期满考核" },
  rank: { clerk: "科员", deputy_section: "副科", section_chief: "正科", deputy_division: "副处", division_chief: "正处",
    deputy_bureau: "副厅", bureau_chief: "正厅" },
};
// asOf: the moment as sent to the API (null = now); asOfDate: the same moment as a Date (milliseconds only);
// asOfShown: what the form's input showed for it, so that submitting it unchanged keeps the exact moment;
// asOfError: the address's as_of that could not be read; answeredAsOf: the moment the API said it answered.
const state = { token: null, asOf: null, asOfDate: null, asOfShown: "", asOfError: null, answeredAsOf: null,
  year: null, yearChosen: false, view: "gates", dossier: null, focusList: null, showing: 0 };

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
const coded = (table, code) => both(LABELS[table][code], code);
// A unit as the API names it as of the moment shown (its `_label`: the unit's name, or its id when unregistered).
const unitOf = (row, key) => both(row[`${key}_label`], row[key]);

// ---- moments -------------------------------------------------------------------------------------
const pad = (n, width = 2) => String(n).padStart(width, "0");

// The reader's time zone at a moment, as "UTC+8" (or "UTC+5:30", "UTC").
function zoneName(date) {
  const offset = -date.getTimezoneOffset();
  if (!offset) return "UTC";
  const sign = offset > 0 ? "+" : "-", hours = Math.floor(Math.abs(offset) / 60), minutes = Math.abs(offset) % 60;
  return `UTC${sign}${hours}${minutes ? ":" + pad(minutes) : ""}`;
}

// A moment in the reader's local time, to the second: "2026-11-27 20:27:15" (and "T" between for inputs).
function localTime(date, separator = " ") {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}${separator}` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

// Every moment the page shows: local time with its zone, "2026-11-27 20:27:15 (UTC+8)".
function moment(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${localTime(date)} (${zoneName(date)})`;
}

// A moment as the address or the form gives it: an ISO date and time, with a zone (Z, +08:00, +0800) or
// without (then the reader's local time). Returns {api, date}: `api` keeps every digit given (the API has
// microseconds, a Date only milliseconds), `date` is for showing it; null if it is no real moment.
function parseMoment(text) {
  let value = String(text || "").trim();
  if (/^\S+ \d{2}:?\d{2}$/.test(value)) value = value.replace(/ (\d{2}:?\d{2})$/, "+$1");  // "+08:00" unencoded in a link
  const m = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?$/.exec(value);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v || 0));
  const fraction = (m[7] || "").slice(0, 6), zone = m[8];
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > lastDay || hour > 23 || minute > 59 || second > 59) return null;
  const ms = Number((fraction + "000").slice(0, 3));
  let date, offset;
  if (zone) {
    const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone);
    const sign = z ? (z[1] === "+" ? 1 : -1) : 1, zh = z ? Number(z[2]) : 0, zm = z ? Number(z[3]) : 0;
    if (zh > 23 || zm > 59) return null;
    date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - sign * (zh * 60 + zm) * 60000);
    offset = z ? `${z[1]}${z[2]}:${z[3]}` : "Z";
  } else {
    date = new Date(year, month - 1, day, hour, minute, second, ms);
    if (date.getHours() !== hour || date.getMinutes() !== minute) return null;  // a local time skipped by a clock change
    const local = -date.getTimezoneOffset();
    offset = `${local < 0 ? "-" : "+"}${pad(Math.floor(Math.abs(local) / 60))}:${pad(Math.abs(local) % 60)}`;
  }
  if (Number.isNaN(date.getTime())) return null;
  const api = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}` +
    `${fraction ? "." + fraction : ""}${offset}`;
  return { api, date };
}

// ---- API -----------------------------------------------------------------------------------------
function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  if (state.asOf) q.set("as_of", state.asOf);
  return q.toString();
}

async function api(path, params) {
  const response = await fetch(`${API}${path}?${query(params)}`, { headers: { Authorization: `Bearer ${state.token}` } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const said = `${body.title || response.status}${body.detail ? ": " + body.detail : ""}`;
    const error = new Error(response.status === 403 ? `本单位无权查看此项 · ${said}`
      : response.status === 401 ? `令牌无效或已过期，请重新输入 · ${said}` : said);
    error.status = response.status;
    throw error;
  }
  if (state.asOf && body.as_of) noteAnsweredMoment(body.as_of);
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
// A number; with `list` ({view, list}) it is a link that opens the list behind it.
function metric(key, label, value, warn, list) {
  const number = list
    ? h("a", { class: "number", "data-metric": key, href: addressOf({ view: list.view, list: list.list }),
      title: "打开列表 open the list", onclick: (e) => { e.preventDefault(); openList(list); } }, value ?? "–")
    : h("span", { class: "number", "data-metric": key }, value ?? "–");
  return h("div", { class: `metric${warn && value > 0 ? " warn" : ""}` }, number, h("span", { class: "label" }, label));
}

// Rows with `open` get a link in their first cell, or the `open.key` column's (Tab, Enter), and open on a click anywhere in the row.
function table(id, columns, rows, total, open) {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)));
  const body = rows.map((row) => {
    const target = open && open.target(row);
    const linked = (open && open.key) || columns[0].key;
    const cells = columns.map((c) => {
      const content = cell(c, row);
      if (c.key !== linked || !target) return h("td", { class: c.class }, content);
      return h("td", { class: c.class }, h("a", { href: open.href(target), onclick: (e) => { e.preventDefault(); open.go(target); } },
        content));
    });
    const tr = h("tr", { class: target ? "opens" : null }, cells);
    if (target) tr.addEventListener("click", (e) => { if (!e.target.closest("a, button")) open.go(target); });
    return tr;
  });
  return h("table", { "data-table": id, "data-total": total ?? rows.length }, h("thead", {}, head), h("tbody", {}, body));
}

// Rows that open a cadre's dossier.
const toDossier = { target: (row) => row.cadre_id, href: (cadre) => addressOf({ view: "dossier", cadre }), go: (cadre) => openDossier(cadre) };

function cell(column, row) {
  if (column.render) return column.render(row);
  const value = row[column.key], given = row[`${column.key}_label`];
  const labelOf = (v, i) => (Array.isArray(given) ? given[i] : null) || (column.labels ? LABELS[column.labels][v] : null);
  if (Array.isArray(value)) return value.map((v, i) => both(labelOf(v, i), v)).join("、");
  const label = given || (column.labels ? LABELS[column.labels][value] : null);
  if (label && label !== value) return h("span", {}, label, h("small", { class: "code" }, ` ${value}`));
  return value === null || value === undefined ? "" : String(value);
}

function section(title, ...content) {
  return h("section", { class: "panel" }, h("h2", {}, title), ...content);
}

function pagedTable(id, path, columns, params, open) {
  const holder = h("div", { class: "paged" });
  let asked = 0;  // the page shown is the last one asked for, whichever answer comes last
  const load = async (offset) => {
    const mine = ++asked;
    const page = await api(path, { ...params, limit: 20, offset });
    if (mine !== asked) return;
    const info = h("span", { class: "pageinfo" },
      page.total ? `第 ${offset + 1}–${offset + page.items.length} 条 · 共 ${page.total} 条` : "无记录 · none");
    const nav = h("div", { class: "pager" },
      h("button", { disabled: offset === 0, onclick: () => load(Math.max(0, offset - 20)) }, "‹ 上一页"), info,
      h("button", { disabled: offset + 20 >= page.total, onclick: () => load(offset + 20) }, "下一页 ›"),
      h("button", { class: "csv", onclick: () => downloadCsv(path, params, id) }, "导出 CSV"));
    holder.replaceChildren(nav, table(id, columns, page.items, page.total, open));
  };
  holder.loaded = load(0).catch((error) => holder.replaceChildren(errorNote(error)));
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
const ALL_YEARS = "全部年度 all years";

async function renderGates(into) {
  const g = await api("/compliance", { year: state.year });
  const s = g.selection, r = g.responsibility, f = g.safeguards, m = g.method.gap_filling;
  const card = (title, sub, scope, ...metrics) => h("section", { class: "gate" },
    h("h3", {}, title, h("small", {}, ` ${sub}`), h("span", { class: "scope" }, scope)), ...metrics);
  const alerts = (list) => ({ view: "alerts", list });
  into.append(h("h2", { class: "view-title" }, `四关总览 · the four gates`),
    h("div", { class: "gates" },
      card("选拔关", "selection", ALL_YEARS,
        metric("selection.open", "在途推荐 open nominations", s.open),
        metric("selection.stuck", `滞留超过${s.stuck_days}天 stuck`, s.stuck, true, alerts("stuck")),
        metric("selection.blocked", "资格未通过待特批 blocked", s.blocked, true),
        metric("selection.approved", "党委已审定 approved", s.approved)),
      card("方式关", "method", `${g.year}年 year`,
        metric("method.total", `${g.year}年挂职人数 placements`, m ? m.total : 0, false, { view: "placements" }),
        metric("method.gap_filling", "补短型 gap-filling", m ? m.gap_filling : 0),
        metric("method.share", "补短型占比 share", m && m.gap_filling_share !== null ? `${Math.round(m.gap_filling_share * 100)}%` : "–"),
        h("p", { class: `verdict ${m && m.compliant === false ? "bad" : "ok"}`, "data-metric": "method.compliant" },
          !m ? "本年无计划 no plan this year"
            : m.compliant === null ? "尚未安排挂职 nothing placed yet this year"
              : m.compliant ? "✓ 以补短型为主 gap-filling is the main type" : "✗ 未以补短型为主 gap-filling is not the main type")),
      card("责任关", "responsibility", `考核 ${g.year}年 · 其余全部年度`,
        metric("responsibility.unsigned_agreements", "责任书未签齐（全部年度）unsigned agreements, all years",
          r.unsigned_agreements, true, alerts("unsigned")),
        metric("responsibility.overdue_check_ins", "督查逾期（全部年度）overdue check-ins, all years", r.overdue_check_ins, true,
          alerts("overdue")),
        metric("responsibility.assessments_not_opened", `${g.year}年未启动考核 not assessed`, r.assessments_not_opened, true,
          alerts("missing")),
        metric("responsibility.assessments_not_finalised", `${g.year}年考核未定等次 not finalised`, r.assessments_not_finalised,
          true, alerts("missing"))),
      card("保障关", "safeguards", ALL_YEARS,
        metric("safeguards.trainings", `培训 trainings (${f.training_hours}h)`, f.trainings),
        metric("safeguards.running_without_training", "在岗未培训 no training yet", f.running_without_training, true),
        metric("safeguards.rewards", "奖励 rewards", f.rewards), metric("safeguards.penalties", "惩戒 penalties", f.penalties),
        metric("safeguards.promoted", "提拔任用 promoted", f.promoted))));
  const plan = g.method.by_type;
  into.append(section(`${g.year}年计划与实际 · plan vs actual`, Charts.barChart({
    id: "plan-vs-actual", title: `${g.year}年各类型挂职：计划与实际 Plan vs actual by type, ${g.year}`,
    xLabel: "挂职类型 placement type", yLabel: "人数 cadres",
    categories: plan.map((p) => both(LABELS.placement_type[p.placement_type], p.placement_type)),
    series: [{ name: "计划 planned", values: plan.map((p) => p.planned || 0) },
      { name: "实际 actual", values: plan.map((p) => p.actual) }],
  })));
}

async function renderPlacements(into) {
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
    const named = units.map((u) => unitOf(rows.items.find((r) => r[key] === u), key));
    return Charts.barChart({ id, title, horizontal: true, stacked: true, xLabel: "人数 cadres", yLabel: axis,
      categories: named,
      series: TYPE_ORDER.map((t) => ({ name: both(LABELS.placement_type[t], t),
        values: units.map((u) => (rows.items.find((r) => r[key] === u && r.placement_type === t) || {}).placements || 0) })) });
  };
  into.append(h("h2", { class: "view-title" }, `${state.year}年挂职登记 · placements`), h("div", { class: "charts" }, typeChart,
    unitChart(byUnit, "host_unit", "placements-by-host", `${state.year}年按接收单位 Placements by host unit`, "接收单位 host unit"),
    unitChart(bySender, "sending_unit", "placements-by-sender", `${state.year}年按派出单位 Placements by sending unit`,
      "派出单位 sending unit")));
  into.append(section("挂职登记 · placement register", pagedTable("placements", "/placements", [
    { key: "placement_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
    { key: "placement_type", label: "类型 type" }, { key: "sending_unit", label: "派出单位 sending" },
    { key: "host_unit", label: "接收单位 host" }, { key: "host_post", label: "挂任职务 post" },
    { key: "status", label: "状态 status" }, { key: "start_date", label: "开始 start" }, { key: "ends_on", label: "期满 ends" },
    { key: "check_ins", label: "督查 check-ins" }], { year: state.year }, toDossier)));
}

async function renderAssessments(into) {
  const [grades, teams] = await Promise.all([api("/assessments/grades", { year: state.year }),
    api("/teams/grades", { year: state.year })]);
  const rows = grades.items;
  const categories = rows.map((r) => `${unitOf(r, "unit")} ${r.year} ${r.kind_label || r.kind}`);
  const withheld = rows.reduce((n, r) => n + r.groups_withheld, 0);
  into.append(h("h2", { class: "view-title" }, `${state.year}年考核结果 · assessments`), h("div", { class: "charts" },
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
  into.append(h("p", { class: "note", "data-metric": "grades.withheld" },
    `少于最低人数的测评组不计入：${withheld} 个测评组未显示 · rater groups below the minimum count withheld: ${withheld}`));
  into.append(section("考核结果 · assessment results", pagedTable("assessments", "/assessments", [
    { key: "cadre_name", label: "干部 cadre" }, { key: "year", label: "年度 year" }, { key: "kind", label: "类别 kind" },
    { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" },
    { key: "final_grade", label: "等次 grade" }, { key: "composite", label: "综合分 composite" },
    { key: "warnings", label: "预警 warnings" }], { year: state.year }, toDossier)));
  into.append(section("领导班子综合考核 · team results", pagedTable("teams", "/teams", [
    { key: "campaign_id", label: "考核 campaign" }, { key: "unit", label: "单位 unit" },
    { key: "team_grade", label: "等次 grade" }, { key: "composite", label: "综合分 composite" },
    { key: "qualitative", label: "定性 qualitative" }, { key: "quantitative", label: "定量 quantitative" }],
  { year: state.year })));
}

async function renderAlerts(into) {
  const placementColumns = [{ key: "placement_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
    { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" }];
  const list = (name, title, table) => h("section", { class: "panel", id: `list-${name}`, "data-list": name },
    h("h3", { tabindex: "-1" }, title), table);
  const lists = [
    list("overdue", "督查逾期 · overdue check-ins", pagedTable("overdue", "/compliance/overdue-check-ins", [...placementColumns,
      { key: "last_check_in_on", label: "上次督查 last check-in" }, { key: "days_without_check_in", label: "天数 days" },
      { key: "overdue_raised_on", label: "预警日期 raised" }], {}, toDossier)),
    list("unsigned", "责任书未签齐 · agreements not fully signed", pagedTable("unsigned", "/compliance/unsigned-agreements",
      [...placementColumns, { key: "missing_signatures", label: "未签方 missing", labels: "party" }], {}, toDossier)),
    list("stuck", "推荐滞留（30天以上）· nominations stuck 30+ days", pagedTable("stuck", "/compliance/stuck-nominations", [
      { key: "nomination_id", label: "编号 id" }, { key: "cadre_name", label: "干部 cadre" },
      { key: "sending_unit", label: "派出单位 sending" }, { key: "status", label: "状态 status" },
      { key: "pending_step", label: "待办环节 step" }, { key: "days_at_step", label: "天数 days" }], { stuck_days: 30 }, toDossier)),
    list("missing", `${state.year}年未完成年度考核 · running without ${state.year} assessment`, pagedTable("missing",
      "/compliance/missing-assessments", [...placementColumns,
        { key: "assessment_status", label: "考核状态 assessment", labels: "assessment_status" }],
      { year: state.year }, toDossier))];
  into.append(h("h2", { class: "view-title" }, "预警事项 · alerts"), ...lists);
  await Promise.all(lists.map((l) => l.querySelector(".paged").loaded));
  if (!into.isConnected) return;  // overtaken: the list to open is the next showing's
  const focus = state.focusList && into.querySelector(`#list-${CSS.escape(state.focusList)}`);
  state.focusList = null;
  if (focus) {
    focus.classList.add("focused");
    focus.scrollIntoView({ block: "start" });
    focus.querySelector("h3").focus({ preventScroll: true });
  }
}

async function renderDossiers(into) {
  if (state.dossier) return renderDossier(into, state.dossier);
  const search = h("input", { type: "search", id: "cadre-search", name: "q" });
  const results = h("div", {});
  const find = () => results.replaceChildren(pagedTable("cadres", "/cadres", [
    { key: "cadre_id", label: "编号 id" }, { key: "name", label: "姓名 name" }, { key: "rank", label: "职级 rank" },
    { key: "home_unit", label: "所在单位 unit" }, { key: "placements", label: "挂职 placements" }],
  { q: search.value.trim() }, toDossier));
  into.append(section("干部档案 · cadre dossiers", h("form", { class: "filters", role: "search",
    onsubmit: (e) => { e.preventDefault(); find(); } },
  h("label", { for: "cadre-search" }, "姓名或编号 name or id"), search, h("button", { type: "submit" }, "查找 find")), results));
  find();
  await results.firstChild.loaded;
}

// The business date an event carries in its data (when it happened, as against when it was recorded).
const DATE_FIELDS = ["checked_on", "completed_on", "decided_on", "decision_date", "started_on", "recommended_on",
  "signed_on", "raised_on", "cleared_on", "ended_on", "recalled_on", "extended_on", "reported_on", "occurred_on",
  "start_date", "effective_from"];
// The few fields that say what an event was about, per event type (others: their first plain fields).
const SUMMARY_FIELDS = {
  "selection.CadreRegistered": ["rank", "home_unit"], "selection.NominationRecommended": ["placement_type", "host_unit", "host_post"],
  "selection.NominationInspected": ["passed", "findings"], "selection.NominationApproved": ["decision_ref", "host_unit", "host_post"],
  "selection.NominationRejected": ["decision_ref"], "posting.PlacementPlanned": ["placement_type", "host_unit", "host_post", "term_months"],
  "posting.AgreementSigned": ["party", "version"], "posting.PlacementStarted": ["ends_on"],
  "posting.PlacementCompleted": ["outcome"], "posting.CheckInRecorded": ["met_by", "thinking", "work"],
  "posting.CheckInOverdue": ["days_without_check_in", "max_days"], "posting.TrainingRecorded": ["course", "provider", "hours"],
  "posting.PolicyAdopted": ["version", "allowed_term_months", "max_term_months", "check_in_days"],
  "posting.RewardDecided": ["description", "basis"], "posting.PenaltyDecided": ["description", "basis"],
  "assessment.AssessmentOpened": ["kind", "year"], "assessment.AssessmentFinalised": ["final_grade", "composite"],
  "assessment.BallotCast": ["rater_group"], "assessment.TallyEntered": ["rater_group"],
};
const FIELD_LABELS = { placement_type: "placement_type", party: "party", outcome: "outcome", final_grade: "grade", kind: "kind",
  rank: "rank", proposed_grade: "grade" };
const UNIT_FIELDS = ["home_unit", "host_unit", "sending_unit", "unit"];

function businessDate(data) {
  const key = DATE_FIELDS.find((k) => typeof (data || {})[k] === "string");
  return key ? { key, value: data[key] } : null;
}

function eventSummary(event, skip) {
  const data = event.data || {};
  const plain = (k) => k !== skip && !/(^|_)id$/.test(k) && data[k] !== null && data[k] !== "" &&
    ["string", "number", "boolean"].includes(typeof data[k]);
  const keys = (SUMMARY_FIELDS[event.type] || Object.keys(data).filter(plain).slice(0, 3)).filter(plain);
  const unitNames = Object.fromEntries((event.units || []).map((u, i) => [u, (event.units_label || [])[i]]));
  return keys.map((k) => {
    const v = data[k];
    const shown = FIELD_LABELS[k] ? both(LABELS[FIELD_LABELS[k]][v], v) : UNIT_FIELDS.includes(k) ? both(unitNames[v], v)
      : typeof v === "boolean" ? (v ? "是 yes" : "否 no") : v;
    return `${k}: ${shown}`;
  }).join(" · ");
}

async function renderDossier(into, cadreId) {
  const d = await api(`/cadres/${encodeURIComponent(cadreId)}/dossier`, {});
  const c = d.cadre || { cadre_id: cadreId, name: "（未登记 not registered）" };
  into.append(h("div", { class: "dossier-head" },
    h("button", { onclick: () => { state.dossier = null; go("dossier"); } }, "‹ 返回 back"),
    h("h2", { "data-metric": "dossier.name" }, `${c.name} `, h("small", {}, c.cadre_id)),
    h("p", { "data-metric": "dossier.details" }, `${c.rank_label || ""} ${c.rank || ""} · ${unitOf(c, "home_unit")} · ` +
      `${c.reserve_cadre ? "后备干部 reserve cadre" : ""}`)));
  into.append(section("推荐 · nominations", table("dossier-nominations", [{ key: "nomination_id", label: "编号 id" },
    { key: "status", label: "状态 status" }, { key: "placement_type", label: "类型 type" }, { key: "host_unit", label: "接收单位 host" },
    { key: "decision_ref", label: "审定文号 decision" }], d.nominations)));
  into.append(section("挂职 · placements", table("dossier-placements", [{ key: "placement_id", label: "编号 id" },
    { key: "placement_type", label: "类型 type" }, { key: "host_unit", label: "接收单位 host" }, { key: "status", label: "状态 status" },
    { key: "started_on", label: "开始 start" }, { key: "outcome", label: "结果 outcome" }], d.placements)));
  into.append(section("考核 · assessments", table("dossier-assessments", [{ key: "year", label: "年度 year" },
    { key: "kind", label: "类别 kind" }, { key: "status", label: "状态 status" }, { key: "final_grade", label: "等次 grade" }],
  d.assessments)));
  into.append(section(`经历 · what happened (${d.total})`,
    h("p", { class: "note" }, "记录时间为本地时间；业务日期为事件所载日期 · recorded at (your local time); the business date is the one the event carries"),
    h("ol", { class: "events", "data-total": d.total }, d.items.map((e) => {
      const when = businessDate(e.data);
      const about = eventSummary(e, when && when.key);
      return h("li", {},
        h("time", { datetime: e.recorded_at, title: `记录于 recorded at ${e.recorded_at}` }, moment(e.recorded_at)),
        when ? h("span", { class: "business-date", title: when.key }, `业务日期 ${when.value}`) : null,
        h("strong", {}, e.type_label || e.type), h("small", { class: "code" }, ` ${e.type}`),
        h("span", { class: "who" }, ` · ${e.actor_principal || ""} (${both(e.actor_role_label || LABELS.role[e.actor_role], e.actor_role || "")}` +
          `${e.actor_unit ? ", " + unitOf(e, "actor_unit") : ""})`),
        about ? h("span", { class: "about" }, ` · ${about}`) : null,
        e.reason ? h("span", { class: "why" }, ` · ${e.reason}`) : null);
    }))));
}

function openDossier(cadreId) {
  if (!cadreId) return;
  state.dossier = cadreId;
  go("dossier");
}

function openList(list) {
  state.focusList = list.list || null;
  go(list.view);
}

const TIMELINE_FILTERS = [["cadre_id", "干部编号 cadre id"], ["unit", "单位 unit"], ["actor", "操作人 actor"],
  ["type", "事件类型 event type"], ["correlation_id", "关联编号 correlation id"]];

async function renderTimeline(into) {
  const fields = TIMELINE_FILTERS.map(([name]) => h("input", { name, id: `filter-${name}`, class: "filter" }));
  const results = h("div", {});
  const zone = zoneName(state.asOfDate || new Date());
  const run = () => {
    const params = Object.fromEntries(fields.map((f) => [f.name, f.value.trim()]));
    results.replaceChildren(pagedTable("timeline", "/timeline", [
      { key: "recorded_at", label: `时间 recorded (${zone})`, render: (e) => h("span", {},
        h("time", { datetime: e.recorded_at, title: e.recorded_at }, moment(e.recorded_at)), " ",
        h("a", { class: "as-of-link", href: addressOf({ asOf: e.recorded_at, view: "timeline" }),
          title: "查看此刻的记录 show the record as of this moment" }, "⇢ 此刻 as of")) },
      { key: "type", label: "事件 event" }, { key: "cadre_id", label: "干部 cadre" },
      { key: "actor_principal", label: "操作人 actor" }, { key: "actor_unit", label: "单位 unit" },
      { key: "actor_role", label: "角色 role", render: (e) => e.actor_role
        ? h("span", {}, e.actor_role_label || LABELS.role[e.actor_role] || "", h("small", { class: "code" }, ` ${e.actor_role}`))
        : "" },
      { key: "reason", label: "原因 reason" }, { key: "correlation_id", label: "关联 correlation" }], params,
    { ...toDossier, key: "cadre_id" }));
    return results.firstChild.loaded;
  };
  into.append(section("审计时间线 · audit timeline", h("form", { class: "filters timeline-filters",
    onsubmit: (e) => { e.preventDefault(); run(); } },
  TIMELINE_FILTERS.map(([name, label], i) => h("label", { class: "field" }, h("span", {}, label), fields[i])),
  h("button", { type: "submit" }, "筛选 filter")), results));
  await run();
}

// ---- shell -----------------------------------------------------------------------------------------
function errorNote(error) {
  return h("p", { class: "error", role: "alert" }, `无法加载 could not load: ${error.message}`);
}

function showError(error) {
  main().prepend(errorNote(error));
}

// The address of a view: ?as_of= (the moment), ?year= (a year the reader chose), ?view=, ?cadre= (a dossier),
// #list-… (a list in 预警事项).
function addressOf({ view = state.view, cadre = view === "dossier" ? state.dossier : null, list = null,
  asOf = state.asOf, year = state.yearChosen ? state.year : null } = {}) {
  const url = new URL(window.location.href);
  for (const key of ["as_of", "year", "view", "cadre", "token"]) url.searchParams.delete(key);
  if (asOf) url.searchParams.set("as_of", asOf);
  if (year) url.searchParams.set("year", String(year));
  if (cadre) url.searchParams.set("cadre", cadre);
  else if (view && view !== "gates") url.searchParams.set("view", view);
  url.hash = list ? `list-${list}` : "";
  return url.pathname + url.search + url.hash;
}

// Shows a view and puts it in the address (a new history entry, so the browser's back button returns).
function go(view) {
  const address = addressOf({ view, list: state.focusList });
  if (address !== location.pathname + location.search + location.hash) history.pushState(null, "", address);
  return show(view);
}

// Each showing of a view draws into a canvas of its own. A showing overtaken by another (a slow answer, the
// back button pressed twice, a moment or year chosen meanwhile) goes on drawing into a canvas no longer on the
// page, and does not say the page is ready: what is shown is always the last view asked for, never a mix.
async function show(view) {
  const showing = waitForView();
  state.view = view;
  document.querySelectorAll("nav button").forEach((b) => {
    b.classList.toggle("active", b.dataset.view === view);
    if (b.dataset.view === view) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  const canvas = h("div", { class: "view-canvas" });
  main().replaceChildren(canvas);
  main().dataset.view = view;
  try {
    await VIEWS[view][2](canvas);
  } catch (error) {
    canvas.prepend(errorNote(error));
  }
  if (showing === state.showing) main().dataset.ready = "true";
}

// The page is about to show something else: whatever is being drawn now is overtaken.
function waitForView() {
  main().dataset.ready = "false";
  state.showing += 1;
  return state.showing;
}

// The years to choose from: those with placements or a plan as of the moment, and the moment's own year.
async function chooseYear() {
  const [years, plan] = await Promise.all([api("/placements/summary", { by: "year" }), api("/placements/plan", {})]);
  const placed = years.items.map((r) => r.year).filter(Boolean);
  const planned = plan.items.map((r) => r.year).filter(Boolean);
  const current = new Date(Math.min((state.asOfDate || new Date()).getTime(), Date.now())).getFullYear();
  const known = [...new Set([...placed, ...planned])].filter((y) => y <= current);
  const all = [...new Set([...placed, ...planned, current, ...(state.yearChosen ? [state.year] : [])])].sort();
  const select = document.getElementById("year");
  select.replaceChildren(...all.map((y) => h("option", { value: y }, `${y}年`)));
  if (!state.yearChosen) state.year = known.length ? Math.max(...known) : current;
  select.value = String(state.year);
}

function askForToken() {
  const input = h("input", { type: "password", id: "token-input", placeholder: "令牌 token", autocomplete: "off" });
  main().replaceChildren(section("请输入令牌 · sign in with a token", h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    sessionStorage.setItem("reporting-token", input.value.trim());
    start();
  } }, h("label", { for: "token-input" }, "令牌 token"), input, h("button", { type: "submit" }, "进入 enter"))));
  main().dataset.ready = "true";
}

// Reads the view, the dossier, the moment and the year from the address.
function readAddress() {
  const url = new URL(window.location.href);
  setAsOf(url.searchParams.get("as_of"));
  const year = url.searchParams.get("year");
  state.yearChosen = year !== null && /^\d{4}$/.test(year) && Number(year) >= 1949;
  if (state.yearChosen) state.year = Number(year);
  else if (year !== null) {  // no year: the address names what is shown, the default year
    url.searchParams.delete("year");
    history.replaceState(null, "", url.toString());
  }
  const cadre = url.searchParams.get("cadre");
  const view = url.searchParams.get("view");
  state.dossier = cadre || null;
  state.view = cadre ? "dossier" : VIEWS[view] ? view : "gates";
  state.focusList = url.hash.startsWith("#list-") ? url.hash.slice(6) : null;
  if (state.asOfError) {  // the address names what is shown: now
    url.searchParams.delete("as_of");
    history.replaceState(null, "", url.toString());
  }
}

async function start() {
  const url = new URL(window.location.href);
  if (url.searchParams.get("token")) {
    sessionStorage.setItem("reporting-token", url.searchParams.get("token"));
    url.searchParams.delete("token");
    history.replaceState(null, "", url.toString());
  }
  readAddress();
  state.token = sessionStorage.getItem("reporting-token");
  if (!state.token) return askForToken();
  try {
    await chooseYear();
  } catch (error) {
    sessionStorage.removeItem("reporting-token");  // another token may be entered
    askForToken();
    return showError(error);
  }
  show(state.view);
}

function wireShell() {
  const nav = document.querySelector("nav");
  nav.setAttribute("aria-label", "视图 views");
  for (const [key, [zh, en]] of Object.entries(VIEWS)) {
    nav.appendChild(h("button", { type: "button", "data-view": key,
      onclick: () => { if (key === "dossier") state.dossier = null; state.focusList = null; go(key); } },
    zh, h("small", {}, ` ${en}`)));
  }
  document.getElementById("year").addEventListener("change", (e) => {
    state.year = Number(e.target.value);
    state.yearChosen = true;
    history.pushState(null, "", addressOf({ view: state.view, list: state.focusList }));  // a link shows this year
    show(state.view);
  });
  document.getElementById("as-of-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const asked = waitForView();
    const value = document.getElementById("as-of").value;
    // unchanged: keep the exact moment (microseconds) the address gave; else the input's local time
    if (!value) setAsOf(null);
    else if (value !== state.asOfShown) setAsOf(value);
    history.replaceState(null, "", addressOf({ view: state.view }));
    try {
      await chooseYear();
    } catch (error) { /* the view below shows the error */ }
    if (asked === state.showing) show(state.view);  // unless the reader asked for something else meanwhile
  });
  document.getElementById("as-of-now").addEventListener("click", () => {
    document.getElementById("as-of").value = "";
    document.getElementById("as-of-form").requestSubmit();
  });
  window.addEventListener("popstate", () => {
    const asked = waitForView();
    const before = [state.asOf, state.year, state.yearChosen].join();
    readAddress();
    const changed = before !== [state.asOf, state.year, state.yearChosen].join();
    (changed ? chooseYear().catch(() => null) : Promise.resolve()).then(() => {
      if (asked === state.showing) show(state.view);  // unless the reader asked for something else meanwhile
    });
  });
}

// The moment every view describes: null for now, else the moment the address or the form gives, sent to the
// API exactly as given (a link's microseconds kept); a moment that is no moment is an error, and now is shown.
function setAsOf(text) {
  const parsed = text ? parseMoment(text) : null;
  state.asOf = parsed ? parsed.api : null;
  state.asOfDate = parsed ? parsed.date : null;
  state.asOfError = text && !parsed ? text : null;
  state.answeredAsOf = null;
  state.asOfShown = parsed ? localTime(parsed.date, "T") : "";
  document.getElementById("as-of").value = state.asOfShown;
  showAsOfLabel();
}

// The API answers a moment in the future with the present, and says so in the answer's `as_of`.
function noteAnsweredMoment(answered) {
  const date = new Date(answered);
  if (!state.asOfDate || Number.isNaN(date.getTime()) || date.getTime() >= state.asOfDate.getTime()) return;
  if (state.answeredAsOf && new Date(state.answeredAsOf).getTime() >= date.getTime()) return;
  state.answeredAsOf = answered;
  showAsOfLabel();
}

function showAsOfLabel() {
  const label = document.getElementById("as-of-label");
  label.classList.toggle("error", Boolean(state.asOfError));
  label.classList.toggle("future", Boolean(state.answeredAsOf));
  if (state.asOfError) {
    label.setAttribute("role", "alert");
    label.textContent = `无法识别的时刻“${state.asOfError}”，显示当前数据 · not a valid moment: "${state.asOfError}"; showing now`;
  } else {
    label.removeAttribute("role");
    label.textContent = !state.asOf ? `当前 now (${zoneName(new Date())})`
      : state.answeredAsOf
        ? `所选时刻 ${moment(state.asOf)} 尚未到来，显示当前数据（${moment(state.answeredAsOf)}）· ` +
          "that moment is in the future: showing the record as of now"
        : `截至 as of ${moment(state.asOf)}`;
  }
}

wireShell();
start();
