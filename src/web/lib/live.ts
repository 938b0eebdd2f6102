/**
 * An event stream that survives server restarts: EventSource reconnects by itself after a dropped
 * connection (sending Last-Event-ID); when the server answered with an error or the stream ended,
 * it is opened again here after a short back-off. `stop()` ends it for good.
 */
export function live(
  url: string,
  handlers: Record<string, (data: unknown, id: string) => void>,
  onState?: (state: 'open' | 'reconnecting') => void,
): { stop(): void } {
  let source: EventSource | undefined;
  let stopped = false;
  let delay = 500;
  let lastId = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const open = () => {
    if (stopped) return;
    const withId = lastId
      ? `${url}${url.includes('?') ? '&' : '?'}last_event_id=${encodeURIComponent(lastId)}`
      : url;
    const es = new EventSource(withId);
    source = es;
    es.onopen = () => {
      delay = 500;
      onState?.('open');
    };
    es.onerror = () => {
      onState?.('reconnecting');
      if (es.readyState === EventSource.CLOSED && !stopped) {
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 5000);
      }
    };
    for (const [name, handle] of Object.entries(handlers))
      es.addEventListener(name, (event) => {
        const message = event as MessageEvent<string>;
        if (message.lastEventId) lastId = message.lastEventId;
        handle(JSON.parse(message.data), message.lastEventId);
      });
  };
  open();
  return {
    stop: () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      source?.close();
    },
  };
}
