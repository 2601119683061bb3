// Debounced hover reports: a tile/node index is sent once the pointer has rested on it for
// `delay` ms; moving within the same index sends nothing; leaving sends -1 (also debounced).

/**
 * @param {(index:number) => void} send  called with the index the pointer rests on (-1: none)
 * @param {number} delay  milliseconds the pointer must rest before a report
 * @param {{set?: Function, clear?: Function}} timers  injectable setTimeout/clearTimeout (tests)
 */
export function hoverReporter(send, delay = 120, timers = {}) {
  const set = timers.set || ((f, ms) => setTimeout(f, ms));
  const clear = timers.clear || ((id) => clearTimeout(id));
  let reported = -1;
  let pending = -1;
  let timer = null;
  return {
    /** The pointer is over `index` (-1: over nothing). */
    move(index) {
      const i = Number.isInteger(index) && index >= 0 ? index : -1;
      if (i === pending && timer !== null) return;
      if (timer !== null) { clear(timer); timer = null; }
      pending = i;
      if (i === reported) return;
      timer = set(() => {
        timer = null;
        if (pending !== reported) { reported = pending; send(reported); }
      }, delay);
    },
    /** Forget any pending report (the view is being removed). */
    cancel() {
      if (timer !== null) clear(timer);
      timer = null;
    },
    get reported() { return reported; },
  };
}
