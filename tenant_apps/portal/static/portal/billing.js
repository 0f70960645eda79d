// Billing page: after Checkout or a plan change, wait for Stripe's webhook to reach us, then show the
// new plan (no manual reload). Polls /billing/status/ quickly at first; says so after 10 seconds.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-wait-for]");
  if (!box) return;
  const want = box.dataset.waitFor;
  const text = box.querySelector("[data-updating-text]");
  const started = Date.now();
  let warned = false;

  const done = (state) => {
    if (want === "subscribed") return state.subscribed && state.paid;
    if (want === "cancel") return state.cancel_at_period_end;
    if (want.startsWith("plan:")) return state.plan === want.slice(5);
    return true;
  };

  const poll = async () => {
    const elapsed = Date.now() - started;
    try {
      const response = await fetch("/billing/status/", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (response.ok && done(await response.json())) {
        // The same address again: the server now has the plan and renders it (with its message).
        window.location.replace(window.location.href);
        return;
      }
    } catch (error) {
      // A network blip: keep trying.
    }
    if (!warned && elapsed > 10000) {
      warned = true;
      box.classList.add("slow");
      text.textContent =
        "This is taking longer than usual: Stripe has not confirmed the change yet. " +
        "This page keeps checking and updates by itself; you can also come back later.";
    }
    if (elapsed < 10 * 60 * 1000) {
      window.setTimeout(poll, elapsed < 3000 ? 150 : elapsed < 30000 ? 1000 : 5000);
    }
  };
  poll();
});
