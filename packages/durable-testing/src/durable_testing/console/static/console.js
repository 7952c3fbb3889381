// The console's script: live regions and actions. No framework, no build, no network
// beyond this server. Every piece of HTML it shows was rendered (and escaped) by the
// server; messages it writes itself go through textContent.
"use strict";

const token = document.querySelector('meta[name="console-token"]').content;
const statusLine = document.getElementById("status-line");
const shown = new Map();

function say(message, failed) {
  statusLine.textContent = message;
  statusLine.className = failed ? "failed" : "";
}

// Ask this page's URL for its regions and swap those that changed; a region being
// edited (it holds the focus) waits for the next round.
async function refresh() {
  try {
    const response = await fetch(location.href, { headers: { Accept: "application/json" } });
    if (!response.ok) return;
    if (statusLine.classList.contains("lost")) say("", false);
    const { regions } = await response.json();
    for (const [name, markup] of Object.entries(regions)) {
      const region = document.querySelector(`[data-region="${name}"]`);
      if (!region || shown.get(name) === markup) continue;
      if (region.contains(document.activeElement) && document.activeElement !== document.body) {
        continue;
      }
      region.innerHTML = markup;
      shown.set(name, markup);
    }
  } catch (error) {
    say("the server does not answer", true);
    statusLine.className = "failed lost";
  }
}

async function act(action, body) {
  const response = await fetch(`/console/actions/${action}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Console-Token": token },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    say(answer.message || `${action} failed`, true);
    return null;
  }
  say(`${action}: done`, false);
  return answer;
}

document.addEventListener("submit", async (event) => {
  const form = event.target.closest("form[data-action]");
  if (!form) return;
  event.preventDefault();
  const fields = Object.fromEntries(new FormData(form).entries());
  if (form.dataset.action === "start") {
    const answer = await act("start", fields);
    if (answer) location.href = answer.url;
  } else if (form.dataset.action === "callback") {
    const outcome = event.submitter ? event.submitter.value : "succeed";
    if (await act(`callback-${outcome}`, fields)) refresh();
  }
});

document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const arn = button.closest("[data-arn]").dataset.arn;
  const answer = await act(button.dataset.action, { DurableExecutionArn: arn });
  if (answer && button.dataset.action === "replay") {
    const report = document.getElementById("replay-report");
    report.textContent = answer.report;
    report.className = answer.divergence ? "failed" : "succeeded";
    report.hidden = false;
  }
  if (answer) refresh();
});

for (const region of document.querySelectorAll("[data-region]")) {
  shown.set(region.dataset.region, region.innerHTML);
}
const pollMs = Number(document.body.dataset.pollMs) || 1000;
setInterval(refresh, pollMs);
