// Sorting names (counters, metric families, link keys, sources) in code-unit order, the order
// Array.prototype.sort() gives strings. Not localeCompare: its first call in a process sets up
// ICU's collator, which cost the daemon's main process ~0.5 MB of private memory and made it read
// ~3 MB more of the node binary's ICU data (measured, issue 18: a bare Node sorting two strings
// with localeCompare, 6.3 -> 6.8 MB anonymous). Names here are ASCII, so no locale is wanted.

/** Negative, zero or positive as `a` sorts before, with or after `b` (UTF-16 code units). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
