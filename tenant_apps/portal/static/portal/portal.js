// Portal behaviour that used to be inline (the Content-Security-Policy allows scripts from 'self' only).
document.addEventListener("DOMContentLoaded", () => {
  // Usage meters: the bar's width comes from data-percent (no inline style attribute).
  for (const bar of document.querySelectorAll(".meter > span[data-percent]")) {
    const percent = Math.max(0, Math.min(100, Number(bar.dataset.percent) || 0));
    bar.style.width = `${percent}%`;
  }
  // Destructive forms ask first: <form data-confirm="Question?">.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
