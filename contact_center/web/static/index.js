"use strict";
// Sign in against the JSON API and show who is signed in; text is set with textContent, never as HTML.
const loginCard = document.getElementById("login-card");
const sessionCard = document.getElementById("session-card");
let csrfToken = null;

function showUser(payload) {
  csrfToken = payload.csrf_token;
  document.getElementById("who").textContent = payload.user.display_name;
  document.getElementById("role").textContent = payload.user.role;
  loginCard.classList.add("hidden");
  sessionCard.classList.remove("hidden");
}

async function checkSession() {
  const response = await fetch("/api/auth/me", { credentials: "same-origin" });
  if (response.ok) showUser(await response.json());
}

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const message = document.getElementById("login-message");
  message.textContent = "";
  const response = await fetch("/api/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username: form.get("username"), password: form.get("password") }),
  });
  const payload = await response.json();
  if (response.ok) showUser(payload);
  else message.textContent = payload.error ? payload.error.message : "Sign-in failed";
});

document.getElementById("logout").addEventListener("click", async () => {
  await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrfToken } });
  sessionCard.classList.add("hidden");
  loginCard.classList.remove("hidden");
});

checkSession();
