// common.js: what the lab's pages share. Each page gets its parameters in
// its URL and hands its result to the page server (pages.py), which the
// lab's shell reads.
const query = new URLSearchParams(location.search)

export function param (name) {
  const v = query.get(name)
  if (v === null) throw new Error(`no ${name} in the page's URL`)
  return v
}

export async function report (name, result) {
  await fetch(`/result/${name}`, { method: 'POST', body: JSON.stringify(result) })
}

export function hex (buf) {
  return Array.from(new Uint8Array(buf), b => b.toString(16).padStart(2, '0')).join('')
}

// No STUN servers: the lab has none, and WebTorrent's defaults are on the
// Internet. The peers meet on their host candidates.
export const rtcConfig = { iceServers: [] }
