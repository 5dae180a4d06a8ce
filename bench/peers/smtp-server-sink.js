// Accept-and-discard SMTP peer on npm's smtp-server, for bench/compare.
// Usage: NODE_PATH=DIR/node_modules node smtp-server-sink.js PORT
// Prints "listening on 127.0.0.1:PORT" on stdout once bound. No AUTH, no STARTTLS, no reverse DNS,
// 200 MiB size limit; every message is drained and answered 250.
'use strict';
const { SMTPServer } = require('smtp-server');

const port = Number(process.argv[2] || 0);
const server = new SMTPServer({
    name: 'peer.localhost',
    banner: 'smtp-server sink',
    logger: false,
    disabledCommands: ['AUTH', 'STARTTLS'],
    hideSTARTTLS: true,
    authOptional: true,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    size: 200 * 1024 * 1024,
    maxClients: Infinity,
    socketTimeout: 600 * 1000,
    onData(stream, session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => callback(null, 'OK'));
        stream.resume();
    },
});
server.on('error', (err) => { console.error('smtp-server-sink: ' + err.message); });
server.listen(port, '127.0.0.1', () => {
    console.log('listening on 127.0.0.1:' + server.server.address().port);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
