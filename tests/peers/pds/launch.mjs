// A real Bluesky PDS and an in-memory PLC directory in one Node 22 process, on 127.0.0.1 only.
//
// The modules live where `make peers` installed them (PEERS_PDS_MODULES, the folder holding
// node_modules); the PDS reads its configuration from PDS_* variables (see tests/peers/pds_server.py).
// Prints one JSON line {"pds": url, "plc": url} once both listen; stops on SIGTERM.
import { createRequire } from "node:module";
import net from "node:net";

// Both servers call listen(port) on every interface: pin them to the loopback interface.
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === "number" && typeof args[1] !== "string") {
    return listen.call(this, args[0], "127.0.0.1", ...args.slice(1));
  }
  return listen.apply(this, args);
};

const require = createRequire(`${process.env.PEERS_PDS_MODULES}/`);
const plc = require("@did-plc/server");
const pds = require("@atproto/pds");

const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: 0 });
const plcHttp = await plcServer.start();
process.env.PDS_DID_PLC_URL = `http://127.0.0.1:${plcHttp.address().port}`;

const env = pds.readEnv();
const server = await pds.PDS.create(pds.envToCfg(env), pds.envToSecrets(env));
await server.start();
console.log(JSON.stringify({ pds: `http://127.0.0.1:${env.port}`, plc: process.env.PDS_DID_PLC_URL }));

const stop = async () => {
  await server.destroy();
  await plcServer.destroy();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
