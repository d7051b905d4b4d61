// honestsql web page: plain DOM, every value from the server inserted as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let last = null; // {question, db, sql}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = localStorage.getItem("honestsql-key");
  if (key) h["X-API-Key"] = key;
  return h;
}

// GET (no body) or POST JSON; a failure throws the error envelope's message, and a missing key
// shows the key field.
async function request(path, body) {
  const response = await fetch(path, body === undefined ? { headers: headers() } : {
    method: "POST", headers: headers(), body: JSON.stringify(body),
  });
  if (response.status === 401) { $("key-row").hidden = false; }
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
  }
  return response;
}

async function api(path, body) {
  const response = await request(path, body);
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.blob();
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

const KEYWORDS = /^(select|from|where|group|by|order|having|limit|join|left|right|inner|outer|on|as|and|or|not|in|is|null|like|between|distinct|count|sum|avg|min|max|case|when|then|else|end|with|union|all|desc|asc|cast)$/i;

function highlight(code, sql) {
  code.replaceChildren();
  for (const token of sql.match(/'[^']*'|\d+(\.\d+)?|\w+|\s+|./g) || []) {
    if (KEYWORDS.test(token)) code.append(element("span", token, "kw"));
    else if (token.startsWith("'")) code.append(element("span", token, "str"));
    else if (/^\d/.test(token)) code.append(element("span", token, "num"));
    else code.append(document.createTextNode(token));
  }
}

function renderTable(columns, rows, table = $("result")) {
  table.replaceChildren();
  if (!columns.length) return;
  const head = table.createTHead().insertRow();
  for (const column of columns) head.append(element("th", column.name));
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const value of row) tr.append(element("td", value === null ? "NULL" : String(value)));
  }
}

async function renderChart(columns, rows) {
  const figure = $("chart");
  figure.hidden = true;
  const numeric = ["integer", "real", "decimal"];
  if (columns.length !== 2 || !numeric.includes(columns[1].type) || numeric.includes(columns[0].type)
      || rows.length < 2) return;
  try {
    const svg = await api("/api/chart", { columns, rows: rows.slice(0, 500) });
    $("chart-img").src = URL.createObjectURL(svg);
    figure.hidden = false;
  } catch (error) { /* no chart is fine */ }
}

// On an abstention: each result the candidates reached, collapsed, marked unverified; the
// person may mark one right, which stores it as a verified example (POST /api/feedback).
function showAlternatives(answer, question, db) {
  const list = $("alternative-list");
  list.replaceChildren();
  const shown = answer.decision === "abstain" ? answer.alternatives || [] : [];
  $("alternatives").hidden = shown.length === 0;
  shown.forEach((alternative, index) => {
    const box = element("details", undefined, "alternative");
    box.append(element("summary", `(${index + 1}) ${alternative.candidates} of ${answer.candidates.length} candidates, unverified`));
    const code = element("code");
    highlight(code, alternative.sql);
    const pre = element("pre");
    pre.append(code);
    const table = element("table");
    const head = table.createTHead().insertRow();
    for (const column of alternative.columns) head.append(element("th", column.name));
    const body = table.createTBody();
    for (const row of alternative.rows) {
      const tr = body.insertRow();
      for (const value of row) tr.append(element("td", value === null ? "NULL" : String(value)));
    }
    const right = element("button", "✓ This one is right");
    right.type = "button";
    const status = element("span", "", "alternative-status");
    right.addEventListener("click", async () => {
      try {
        await api("/api/feedback", { question, sql: alternative.sql, db, vote: "up" });
        status.textContent = "Remembered as a verified example.";
      } catch (error) { status.textContent = `Error: ${error.message}`; }
    });
    box.append(pre, table);
    if (alternative.more) box.append(element("div", "more rows not shown", "more"));
    box.append(right, status);
    list.append(box);
  });
}

function showAnswer(answer, question, db, target) {
  $("answer").hidden = false;
  $("asked").textContent = question; // the question stays with its answer
  // A question in another language: how the model read it in English, for linking.
  $("reading").hidden = !answer.reading;
  $("reading").textContent = answer.reading ? `Read in English as: ${answer.reading}` : "";
  const verdict = $("verdict");
  const reasons = $("reasons");
  reasons.replaceChildren();
  const notes = $("notes");
  notes.replaceChildren();
  // The words come from the server, in the question's language (answer.prose).
  const prose = answer.prose || { verdict: "", sentence: "", chance: "", language: "en" };
  for (const part of [verdict, reasons, notes, $("sentence")]) part.lang = prose.language;
  for (const note of answer.notes || []) notes.append(element("li", note));
  notes.append(element("li", prose.chance));
  $("sentence").textContent = prose.sentence;
  verdict.textContent = prose.verdict;
  if (answer.decision === "answer") {
    verdict.className = "answered";
  } else {
    verdict.className = "abstained";
    for (const reason of answer.reasons) {
      const item = element("li", reason.message);
      if (reason.clarifying_question) item.append(element("div", reason.clarifying_question, "clarify"));
      if (reason.problems && reason.problems.length) {
        const problems = element("ul", undefined, "problems");
        for (const problem of reason.problems) problems.append(element("li", problem));
        item.append(problems);
      }
      reasons.append(item);
    }
  }
  const rewritten = answer.standalone_question && answer.standalone_question !== question;
  $("read-as").hidden = !rewritten;
  if (rewritten) $("read-as-text").value = answer.standalone_question;
  $("sql-block").hidden = !answer.sql;
  if (answer.sql) highlight($("sql"), answer.sql);
  showAlternatives(answer, question, db);
  renderTable(answer.columns, answer.rows);
  $("result-empty").hidden = !(answer.decision === "answer" && answer.rows.length === 0);
  renderChart(answer.columns, answer.rows);
  last = { question, db, sql: answer.sql };
  $("download").hidden = !answer.sql;
  $("download-status").textContent = "";
  $("feedback").hidden = !answer.sql;
  $("feedback-status").textContent = "";
}

// /api/ask/stream: server-sent events, read from the response body (EventSource only GETs).
async function askStream(body, onStage) {
  const response = await fetch("/api/ask/stream", {
    method: "POST", headers: headers(), body: JSON.stringify(body),
  });
  if (response.status === 401) { $("key-row").hidden = false; }
  if (!response.ok) {
    const data = await response.json();
    throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const kind = (block.match(/^event: (.*)$/m) || [])[1];
      const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
      if (kind === "stage") onStage(data.message);
      else if (kind === "answer") return data;
      else if (kind === "error") throw new Error(data.error.message);
    }
  }
  throw new Error("The answer stream ended early.");
}

// The conversation: follow-ups are read in the light of the earlier turns (server side).
let conversation = null;
const thread = [];

function renderThread() {
  const list = $("thread-list");
  list.replaceChildren();
  $("thread").hidden = thread.length < 2;
  for (const turn of thread.slice(0, -1)) {
    const item = element("li");
    item.append(element("div", turn.question, "turn-question"));
    if (turn.read && turn.read !== turn.question) item.append(element("div", `read as: ${turn.read}`, "turn-read"));
    const rows = turn.answer.rows || [];
    const shown = turn.answer.decision === "answer"
      ? (rows.length === 1 && rows[0].length === 1 ? String(rows[0][0]) : `${rows.length} row(s)`)
      : "I don't know";
    item.append(element("div", shown, "turn-result"));
    list.append(item);
  }
}

function newConversation() {
  conversation = null;
  thread.length = 0;
  renderThread();
  $("answer").hidden = true;
  $("question").value = "";
  $("question").focus();
}

async function send(question, standalone) {
  const db = $("db").value;
  const typed = parseFloat($("target").value);
  const target = Number.isFinite(typed) ? typed : 0.75; // 0 is a target too: answer always
  $("ask-button").disabled = true;
  $("status").textContent = "Starting…";
  try {
    window.stagesSeen = [];
    const stages = $("stages");
    stages.replaceChildren();
    stages.hidden = false;
    const body = { question, db, target, conversation };
    if (standalone) body.standalone = standalone;
    const answer = await askStream(body, (message) => {
      window.stagesSeen.push(message);
      $("status").textContent = `${message}…`;
      for (const done of stages.children) done.className = "done";
      stages.append(element("li", message, "now")); // every stage, as it happens
    });
    $("status").textContent = "";
    stages.hidden = true;
    remember(question, answer, db, target);
    conversation = answer.conversation || null;
    thread.push({ question, read: answer.standalone_question, answer });
    renderThread();
    showAnswer(answer, question, db, target);
    $("question").value = "";
  } catch (error) {
    $("status").textContent = `Error: ${error.message}`;
  } finally {
    $("ask-button").disabled = false;
  }
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (question) await send(question);
}

// The user corrects how a follow-up was read: asked again with that reading.
async function askReading() {
  const reading = $("read-as-text").value.trim();
  const turn = thread[thread.length - 1];
  if (reading && turn) await send(turn.question, reading);
}

// Hands a file the page fetched to the browser's downloads.
function saveAs(file, name) {
  const link = element("a");
  link.href = URL.createObjectURL(file);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// The whole result (not just the rows shown) as a file, from /api/export.
async function download(format) {
  if (!last || !last.sql) return;
  $("download-status").textContent = "Preparing the file…";
  try {
    const response = await request("/api/export", { sql: last.sql, db: last.db, format });
    saveAs(await response.blob(), `honestsql-result.${format}`);
    $("download-status").textContent = "";
  } catch (error) {
    $("download-status").textContent = `Error: ${error.message}`;
  }
}

async function feedback(vote) {
  if (!last) return;
  try {
    await api("/api/feedback", { question: last.question, sql: last.sql, db: last.db, vote });
    $("feedback-status").textContent = vote === "up" ? "Thanks: remembered as a verified example." : "Thanks: recorded.";
  } catch (error) {
    $("feedback-status").textContent = `Not saved: ${error.message}`;
  }
}

// A file of verified pairs, read here and verified by the server (POST /api/memory/import).
async function importPairs(event) {
  event.preventDefault();
  const file = $("import-file").files[0];
  const refused = $("import-refused");
  refused.replaceChildren();
  if (!file) { $("import-status").textContent = "Choose a file first."; return; }
  $("import-status").textContent = `Checking the pairs of ${file.name}…`;
  try {
    const done = await api("/api/memory/import", { name: file.name, text: await file.text(), db: $("db").value });
    const known = done.already ? ` (${done.already} already known)` : "";
    $("import-status").textContent = `Remembered ${done.added} new of ${done.pairs}${known}` +
      (done.refused.length ? `; ${done.refused.length} not kept:` : ".");
    for (const one of done.refused) {
      refused.append(element("li", `${one.at}: ${one.question || "(no question)"}: ${one.problems.join("; ")}`));
    }
  } catch (error) {
    $("import-status").textContent = `Not imported: ${error.message}`;
  }
}

// The database's verified pairs as JSON Lines (GET /api/memory/export), which the import reads.
async function exportPairs() {
  $("export-status").textContent = "Preparing the file…";
  try {
    const db = $("db").value;
    const response = await request(`/api/memory/export${db ? `?db=${encodeURIComponent(db)}` : ""}`);
    const count = Number(response.headers.get("X-Pairs"));
    if (!count) {
      $("export-status").textContent = "No verified examples for this database yet: a thumbs-up or an import adds them.";
      return;
    }
    saveAs(await response.blob(), "honestsql-pairs.jsonl");
    $("export-status").textContent = `Downloaded ${count} verified example${count === 1 ? "" : "s"}.`;
  } catch (error) {
    $("export-status").textContent = `Not downloaded: ${error.message}`;
  }
}

// The questions asked on this page, newest first; one click shows an answer again.
const history = [];

function remember(question, answer, db, target) {
  history.unshift({ question, answer, db, target });
  const list = $("history");
  list.replaceChildren();
  $("history-section").hidden = false;
  for (const entry of history) {
    const item = element("li");
    const again = element("button", entry.question, "history-question");
    again.type = "button";
    again.addEventListener("click", () => showAnswer(entry.answer, entry.question, entry.db, entry.target));
    const rows = entry.answer.rows || [];
    const outcome = entry.answer.decision === "answer" ? (rows.length ? `${rows.length} row(s)` : "no row matches") : "I don't know";
    item.append(again, element("span", ` · ${outcome}`, rows.length || entry.answer.decision !== "answer" ? "" : "empty"));
    list.append(item);
  }
}

// The user's own SQL, through the same guard as the model's (POST /api/check).
async function runSql(event) {
  event.preventDefault();
  const sql = $("sql-box").value.trim();
  const findings = $("sql-findings");
  findings.replaceChildren();
  $("sql-result").replaceChildren();
  if (!sql) return;
  try {
    const result = await api("/api/check", { sql, db: $("db").value });
    for (const problem of result.errors || []) findings.append(element("li", problem.message, "finding"));
    if (result.ok) {
      renderTable(result.columns, result.rows, $("sql-result"));
      if (!result.rows.length) findings.append(element("li", "It ran; no row matches.", "empty"));
    }
  } catch (error) {
    findings.append(element("li", `Error: ${error.message}`, "finding"));
  }
}

async function loadSchema() {
  const target = $("schema");
  target.replaceChildren();
  try {
    const schema = await api(`/api/schema?db=${encodeURIComponent($("db").value)}`);
    for (const table of schema.tables) {
      const details = element("details");
      details.append(element("summary", `${table.name}${table.row_count !== null ? ` (${table.row_count} rows)` : ""}`));
      if (table.description) details.append(element("p", table.description));
      const list = element("ul", undefined, "cols");
      const references = {};
      for (const key of table.foreign_keys || []) {
        key.columns.forEach((c, i) => { references[c] = `${key.ref_table}.${key.ref_columns[i] || ""}`; });
      }
      for (const column of table.columns) {
        const parts = [`${column.name} ${column.type}`];
        if (column.primary_key) parts.push("key");
        if (references[column.name]) parts.push(`→ ${references[column.name]}`);
        if (column.description) parts.push(column.description);
        if (column.samples && column.samples.length) parts.push(`e.g. ${column.samples.slice(0, 3).join(", ")}`);
        list.append(element("li", parts.join(" · ")));
      }
      details.append(list);
      target.append(details);
    }
  } catch (error) {
    target.textContent = `Schema unavailable: ${error.message}`;
  }
}

async function start() {
  $("api-key").addEventListener("change", (e) => { localStorage.setItem("honestsql-key", e.target.value); loadSchema(); });
  $("ask-form").addEventListener("submit", ask);
  $("sql-form").addEventListener("submit", runSql);
  $("import-form").addEventListener("submit", importPairs);
  $("export-pairs").addEventListener("click", exportPairs);
  $("thumbs-up").addEventListener("click", () => feedback("up"));
  $("thumbs-down").addEventListener("click", () => feedback("down"));
  $("download-csv").addEventListener("click", () => download("csv"));
  $("new-conversation").addEventListener("click", newConversation);
  $("read-as-ask").addEventListener("click", askReading);
  $("download-json").addEventListener("click", () => download("json"));
  $("copy").addEventListener("click", async () => {
    try { await navigator.clipboard.writeText($("sql").textContent); $("copy").textContent = "Copied"; }
    catch { $("copy").textContent = "Select and copy"; }
    setTimeout(() => { $("copy").textContent = "Copy"; }, 1500);
  });
  const health = await api("/api/health");
  for (const name of health.databases) $("db").append(element("option", name));
  if (health.model === false) $("status").textContent = "No model is configured: questions cannot be answered here; your own SQL can still be checked and run.";
  $("db").addEventListener("change", loadSchema);
  $("question").focus();
  await loadSchema();
}

start();
