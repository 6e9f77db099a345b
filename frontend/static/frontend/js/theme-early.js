// Runs in <head>, before the first paint, so a dark-theme user never sees a light flash. A file and
// not an inline script: the Content-Security-Policy allows scripts from this site only.
document.documentElement.dataset.theme = localStorage.getItem("tradex-theme")
  || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
