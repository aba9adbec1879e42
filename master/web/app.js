"use strict";
// Nodes and their state, live from /api/stream.
const nodes = document.getElementById("nodes");
const live = document.getElementById("live");
const es = new EventSource("/api/stream");
es.addEventListener("state", (e) => {
  const st = JSON.parse(e.data);
  live.textContent = "live";
  nodes.replaceChildren(...st.nodes.map((n) => {
    const p = document.createElement("p");
    p.textContent = n.name + " " + n.state;
    if (n.state !== "Ready") p.className = "notready";
    return p;
  }));
});
es.onerror = () => { live.textContent = "reconnecting…"; };
