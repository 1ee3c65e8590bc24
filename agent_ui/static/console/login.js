"use strict";
// The sign-in page: posts to /api/auth/login and goes to the page the server chose from ?next= (always a path
// on this site; the server checked it and put it in data-next).
(function () {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");
  const next = form.dataset.next && form.dataset.next.startsWith("/") && !form.dataset.next.startsWith("//")
    ? form.dataset.next : "/agent";

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    error.textContent = "";
    if (!username || !password) {
      error.textContent = "Enter your username and password.";
      (username ? form.elements.password : form.elements.username).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = "Signing in…";
    try {
      const response = await fetch("/api/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      if (response.ok) {
        window.location.assign(next);
        return;
      }
      let message = "Sign-in failed. Check your username and password.";
      try {
        const payload = await response.json();
        if (response.status === 429 && payload.error) message = payload.error.message;
      } catch (_) { /* keep the plain message */ }
      error.textContent = message;
      form.elements.password.select();
    } catch (_) {
      error.textContent = "The server cannot be reached. Check your connection and try again.";
    }
    submit.disabled = false;
    submit.textContent = "Sign in";
  });
})();
