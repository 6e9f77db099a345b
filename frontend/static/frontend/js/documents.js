// Statements and trade confirmations (/v2/documents, from settlement).
import { el, explain, fmtTime, optionalApi, setEmpty, start } from "./core.js";

const tbody = document.getElementById("docs");
start();
optionalApi("/v2/documents").then(({ data, missing }) => {
  if (missing) { setEmpty(tbody, 3, "Documents are not available on this server yet (no /v2/documents endpoint)."); return; }
  const docs = Array.isArray(data) ? data : (data.documents || []);
  if (!docs.length) { setEmpty(tbody, 3, "No documents yet: trade confirmations appear after your first fill settles, statements monthly."); return; }
  tbody.replaceChildren(...docs.map(d => el("tr", {}, el("td", { text: d.date || fmtTime(d.created_at) }), el("td", { text: (d.type || d.document_type || "").replaceAll("_", " ") }),
    el("td", {}, el("a", { href: d.download_url || `/v2/documents/${d.id}/download`, text: d.filename || "Download" })))));
}).catch((err) => setEmpty(tbody, 3, `Documents could not be loaded: ${explain(err)}`));
