// tests/e2e/webtorrent/servers.mjs: the e2e lab's WebSocket servers and
// its WebSocket client, one mode per run (see tests/e2e/webtorrent.sh):
//
//   tracker HOST PORT [CERT KEY]   bittorrent-tracker's WebSocket tracker,
//                                  over TLS (wss://) when given a certificate
//   signal HOST PORT               a call's signalling server: relays JSON
//                                  between the caller and the callee
//   echo HOST PORT                 a WebSocket echo server
//   echo-client SOURCE URL COUNT   a chat-like client of the echo server:
//                                  COUNT messages of about 1.5 KB, each
//                                  checked; prints the case's result line
//
// Servers print "ready <url>" once listening and run until killed. The
// packages come from BTBLOCKD_E2E_NODE (default /opt/btblockd-e2e), where
// contrib/install-deps.sh installs them with npm ci. The tracker is the
// package's Server, not its command: the command's entry point loads the
// tracker client too, whose WebRTC package needs a native module that an
// install without scripts does not build.
import { createHash, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const nodeDir = process.env.BTBLOCKD_E2E_NODE || '/opt/btblockd-e2e'
const require = createRequire(join(nodeDir, 'package.json'))
const { WebSocket, WebSocketServer } = require('ws')

function listen (server, host, port, scheme) {
  server.listen(port, host, () => console.log(`ready ${scheme}://${host}:${port}`))
}

// A server for WebSocket connections only, plain or TLS.
function httpServer (cert, key) {
  const handler = (req, res) => { res.statusCode = 404; res.end() }
  return cert ? https.createServer({ cert: readFileSync(cert), key: readFileSync(key) }, handler)
    : http.createServer(handler)
}

async function tracker (host, port, cert, key) {
  const url = pathToFileURL(join(nodeDir, 'node_modules/bittorrent-tracker/server.js'))
  const { default: Server } = await import(url)
  const tracker = new Server({ http: false, udp: false, stats: false, ws: { noServer: true } })
  const server = httpServer(cert, key)
  tracker.on('error', err => console.error(`tracker error: ${err.message}`))
  tracker.on('warning', err => console.error(`tracker warning: ${err.message}`))
  tracker.on('start', addr => console.log(`start ${addr}`))
  server.on('upgrade', (req, socket, head) => {
    tracker.ws.handleUpgrade(req, socket, head, ws => tracker.ws.emit('connection', ws, req))
  })
  listen(server, host, port, cert ? 'wss' : 'ws')
}

function signal (host, port) {
  const server = httpServer()
  const wss = new WebSocketServer({ server })
  const peers = {}
  wss.on('connection', ws => {
    let role = null
    ws.on('message', data => {
      const msg = JSON.parse(data)
      if (msg.type === 'join') {
        role = msg.role
        peers[role] = ws
        console.log(`join ${role}`)
        if (peers.caller && peers.callee) peers.caller.send(JSON.stringify({ type: 'ready' }))
        return
      }
      const other = peers[role === 'caller' ? 'callee' : 'caller']
      if (other && other.readyState === WebSocket.OPEN) other.send(String(data))
    })
    ws.on('close', () => { if (role && peers[role] === ws) delete peers[role] })
  })
  listen(server, host, port, 'ws')
}

function echo (host, port) {
  const server = httpServer()
  const wss = new WebSocketServer({ server })
  wss.on('connection', ws => ws.on('message', (data, binary) => ws.send(data, { binary })))
  listen(server, host, port, 'ws')
}

// COUNT chat messages, at most 16 unanswered; every echo compared with
// what was sent. The text is random, so no message repeats another.
function echoClient (source, url, count) {
  const start = process.hrtime.bigint()
  const sent = []
  const hashSent = createHash('sha256')
  const hashGot = createHash('sha256')
  let next = 0; let got = 0; let bytes = 0; let bad = 0
  const done = ok => {
    const s = Number(process.hrtime.bigint() - start) / 1e9
    const same = hashSent.digest('hex') === hashGot.digest('hex')
    console.log(`case=wsapp bytes=${bytes} completed=${ok && same && !bad ? 1 : 0} seconds=${s.toFixed(1)} ` +
      `messages=${got}/${count} checksum=${same && !bad ? 'ok' : 'bad'}`)
    process.exit(0)
  }
  const ws = new WebSocket(url, { localAddress: source, perMessageDeflate: false })
  const timer = setTimeout(() => { console.error(`wsapp: ${got}/${count} after 60 s`); done(false) }, 60000)
  const send = () => {
    while (next < count && next - got < 16) {
      const text = JSON.stringify({
        type: 'chat', room: 'lab', from: 'alice', seq: next, text: randomBytes(1100).toString('base64')
      })
      sent.push(text)
      hashSent.update(text)
      ws.send(text)
      next++
    }
  }
  ws.on('open', send)
  ws.on('message', data => {
    const text = String(data)
    if (text !== sent[got]) bad++
    sent[got] = null
    hashGot.update(text)
    bytes += data.length
    got++
    if (got === count) {
      clearTimeout(timer)
      ws.close()
      done(true)
    } else {
      send()
    }
  })
  ws.on('error', err => { console.error(`wsapp: ${err.message}`); clearTimeout(timer); done(false) })
}

const [mode, ...args] = process.argv.slice(2)
if (mode === 'tracker') await tracker(args[0], Number(args[1]), args[2], args[3])
else if (mode === 'signal') signal(args[0], Number(args[1]))
else if (mode === 'echo') echo(args[0], Number(args[1]))
else if (mode === 'echo-client') echoClient(args[0], args[1], Number(args[2]))
else {
  console.error('usage: servers.mjs tracker|signal|echo|echo-client ...')
  process.exit(2)
}
