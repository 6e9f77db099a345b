// The security page: the tab's socket (for the connection badge and session-ended notices).
import { start } from "./core.js";
start();
