// Pages without a live view (login, sign-up, password reset): only the theme button.
import { initTheme } from "./core.js";
initTheme();
