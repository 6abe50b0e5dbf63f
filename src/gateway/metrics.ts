// Prometheus text exposition (format 0.0.4) of the daemon's counters, served on loopback only.
// Counter names in the store look like `link.lora0.frames_rx` or `node.headers_sent`; the link
// name becomes a label, so one family (`altnet_link_frames_rx_total`) covers every link, and the
// variable last part of a few families (a message command, an error code, an anomaly kind)
// becomes a label too (LABEL_RULES). A name written with Counters.set() is a gauge, anything
// else a counter (with `_total`). HELP comes from METRIC_HELP; a name not described there says
// so plainly instead of pretending, and test/gateway/metrics-help.test.ts fails for any counter
// name written in src/ that has no HELP.
//
// By hand, not prom-client: the values come from our own Counters store and from snapshots that
// every link's child process sends over IPC, so they are known only as name/value pairs at
// scrape time. prom-client's model is metrics declared up front in a registry, counters that
// can only be incremented (so a child's snapshot cannot be set), and default collectors for its
// own process only; mapping our snapshots onto it would mean a registry rebuilt per scrape. The
// text format is small, and test/appliance/metrics.test.ts checks our output against the rules a
// Prometheus server enforces.
import type { AddressInfo } from 'node:net';
import type { Counters } from '../util/counters.js';
import { AltnetError, ConfigError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { isLoopback } from '../util/net.js';
import { compareNames } from '../util/order.js';

/** A family given whole (samples with any labels), e.g. per-process memory. */
export interface ExplicitFamily {
  /** Without the namespace: `process_resident_memory_bytes`. */
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Array<{ labels: Record<string, string>; value: number }>;
}

export interface MetricsMeta {
  /** Prefix of every family; default `altnet`. */
  namespace?: string;
  /**
   * Store names that are gauges (set, not incremented), as exact names or with the link name
   * replaced by `*` (`link.*.queue_len`). Everything else is a counter.
   */
  gaugeNames?: readonly string[];
  /** Gauges computed at scrape time (uptime, node height...), same naming rules. */
  gauges?: Record<string, number>;
  /** HELP text by store name with `*` for the link (`link.*.frames_rx`) or by family name; over METRIC_HELP. */
  help?: Record<string, string>;
  /** Constant labels for an `<ns>_info` gauge of value 1 (version, network). */
  info?: Record<string, string>;
  /** Families rendered as given. */
  families?: readonly ExplicitFamily[];
  /** More store values beside the snapshot (a link driver's own counters), same naming rules. */
  values?: Record<string, number>;
}

/**
 * Store-name prefixes whose last part is a value, not a name: `node.msg_in.headers` becomes
 * `altnet_node_msg_in_total{command="headers"}`. `*` stands for a link name.
 */
export const LABEL_RULES: ReadonlyArray<{ prefix: string; label: string }> = [
  { prefix: 'node.msg_in.', label: 'command' },
  { prefix: 'node.msg_out.', label: 'command' },
  { prefix: 'node.errors.', label: 'code' },
  { prefix: 'node.evicted.', label: 'reason' },
  { prefix: 'watchdog.raised.', label: 'kind' },
  { prefix: 'watchdog.cleared.', label: 'kind' },
  { prefix: 'link.*.invalid.', label: 'code' },
  { prefix: 'link.*.ipc_errors.', label: 'code' },
  { prefix: 'link.*.errors.', label: 'code' },
  { prefix: 'link.*.recover.', label: 'code' },
  { prefix: 'link.*.failure.', label: 'code' },
  { prefix: 'link.*.lie.', label: 'kind' },
  { prefix: 'link.*.frames_bad.', label: 'code' },
  { prefix: 'link.*.send_errors.', label: 'code' },
  { prefix: 'link.*.header_requests_not_sent.', label: 'reason' },
  { prefix: 'link.*.reassembly.', label: 'event' },
  { prefix: 'link.*.garbage_', label: 'kind' },
  { prefix: 'link.*.rnode_error_', label: 'code' },
  { prefix: 'link.*.v2.error.', label: 'code' },
  { prefix: 'node.v2.error.', label: 'code' },
  { prefix: 'bip324proxy.v2.error.', label: 'code' },
  { prefix: 'bip324proxy.errors.', label: 'code' },
  { prefix: 'chain.rejected.', label: 'code' },
  { prefix: 'chain.store.cut.', label: 'reason' },
  { prefix: 'hotplug.devices.', label: 'event' },
];

/** HELP text by store name (`*` for the link name). What each number means, in a sentence. */
export const METRIC_HELP: Readonly<Record<string, string>> = {
  'chain.height': 'Height of the best valid header chain altnet holds.',
  'chain.side-headers': 'Valid headers kept on side branches (not on the best chain).',
  'chain.accepted': 'Headers validated and added to the chain, from any source.',
  'chain.duplicates': 'Headers received that the chain already had.',
  'chain.reorgs': 'Times the best header chain switched to another branch.',
  'node.height': "Height of the node's best header as it told altnet; -1 before a node has connected.",
  'node.connections': 'Bitcoin nodes connected to the P2P server now.',
  'node.headers_sent': 'Headers sent to the node.',
  'node.tx_sent': 'Transactions handed to the node.',
  'node.blocks_sent': 'Blocks handed to the node.',
  'node.invalid_headers': 'Headers the node sent that failed validation.',
  'node.msg_in': 'P2P messages received from the node, by command.',
  'node.msg_out': 'P2P messages sent to the node, by command.',
  'node.errors': 'Errors on node connections, by error code.',
  'node.evicted': 'Node-port connections closed by slot protection, by reason.',
  'node.connections_refused': 'Connections to the node port refused (not loopback, or over the limit).',
  'router.anycasts': 'Times headers were requested from every link at once (start, a link coming up, an anomaly).',
  'router.beacons': 'Beacon carousel batches handed to a transmit link that asked for its next one.',
  'router.beacon_tips': 'Beacon tip announcements (a new tip, or the heartbeat) handed to the transmit links.',
  'router.headers_to_node': 'Headers the router pushed to the node because it lacked them.',
  'watchdog.active_anomalies': 'Anomalies active now (stale tip, a link with more work, silent link, node not connected).',
  'watchdog.active': 'Anomalies active now, as the watchdog last counted them.',
  'watchdog.sources_agreeing':
    "Independent sources (distinct servers; radio and random-peer links each count as one) whose last reported tip has the best known chain's work. Informs only: valid work from one source still goes to the node.",
  'watchdog.sources_reporting':
    'Independent sources (distinct servers; radio and random-peer links each count as one) that have reported a tip.',
  'watchdog.raised': 'Anomalies raised, by kind.',
  'watchdog.cleared': 'Anomalies cleared, by kind.',
  'outbox.pending': 'Transactions from `altnet send-tx` waiting to be seen back from the network.',
  'outbox.picked_up': 'Transactions taken from the outbox directory.',
  'outbox.sends': 'Transmissions of outbox transactions (each try on the links and to the node).',
  'outbox.done': 'Outbox transactions seen back from the network.',
  'outbox.expired': 'Outbox transactions given up after 14 days unseen.',
  uptime_seconds: 'Seconds since this gateway started.',
  'link.*.headers_rx': 'Headers received from the link, before validation.',
  'link.*.headers_accepted': 'Headers from the link that were new and valid and joined the chain.',
  'link.*.invalid_headers': 'Headers from the link rejected by validation.',
  'link.*.invalid': 'Rejected deliveries from the link, by rejection code.',
  'link.*.header_requests': 'Header requests sent to the link.',
  'link.*.tx_rx': 'Transactions received from the link.',
  'link.*.restarts': 'Times the link driver process was restarted after it stopped.',
  'link.*.exits': 'Times the link driver process exited unexpectedly.',
  'link.*.quarantines': 'Times the link was ignored for a while for sending invalid data.',
  'link.*.ipc_errors': 'Malformed messages from the link driver process, by code (the driver is restarted).',
  'link.*.dropped_while_down': 'Messages for the link dropped because its driver was not running.',
  'link.*.frames_rx': 'Radio frames received by the link driver.',
  'link.*.frames_tx': 'Radio frames transmitted by the link driver.',
  'link.*.bytes_rx': 'Bytes received by the link driver.',
  'link.*.bytes_tx': 'Bytes transmitted by the link driver.',
  'link.*.queue_length': 'Frames waiting for airtime in the link driver.',
  'link.*.deferred': 'Frames held back by the duty-cycle limit.',
  'link.*.tips_rx': 'Tip announcements received on the link.',
  'link.*.tips_tx': 'Tip announcements transmitted on the link.',
  'chain.rejected': 'Headers rejected by validation, by rejection code.',
  'chain.side-evicted': 'Side-branch headers dropped to keep the side-branch store within its limit.',
  'chain.add_errors': 'Header deliveries the chain failed to take (an internal or storage error), not a validation verdict.',
  'chain.store.appended': 'Headers written to the header file on disk.',
  'chain.store.write-failed': 'Failed writes of the header file (the headers stay in memory and are retried).',
  'chain.store.cut': 'Times the header file was cut back at start-up, by reason (a torn or invalid record).',
  'blocks.store.added': 'Blocks written to the block store.',
  'blocks.store.pruned': 'Blocks removed from the block store to keep it within its size limit.',
  'blocks.store.damaged': 'Block store files found damaged and set aside.',
  'blocks.store.read_errors': 'Failed reads of the block store.',
  'blocks.store.write_errors': 'Failed writes to the block store.',
  'blocks.store.torn_removed': 'Half-written block files (a crash while writing) removed at start-up.',
  'blocks.verified': 'Blocks fetched for a rescue whose header, merkle root and size were verified.',
  'blocks.verified_bytes': 'Bytes of verified blocks.',
  'blocks.invalid': 'Blocks fetched for a rescue that failed verification.',
  'node.tx_requested': 'Transactions the node asked altnet for (getdata).',
  'node.tx_received': 'Transactions the node sent to altnet.',
  'node.v2_refused': 'Node connections that tried BIP324 v2 where altnet refuses it.',
  'node.ignored_before_verack': 'Messages from a node connection before its handshake ended, ignored.',
  'node.identified': 'Connections recognised as the node itself (by its RPC getpeerinfo).',
  'node.rpc_errors': "Failed calls to the node's RPC interface (noderpc=).",
  'node.rpc_failures': "Times the node's RPC interface could not be reached or answered with an error.",
  'router.node_tx_bad': 'Transactions from the node that did not parse, dropped.',
  'router.headers_not_stored': 'Headers validated but not written to disk (storage failed); kept in memory.',
  'router.store_retries_failed': 'Retries of a failed header write that failed again.',
  'router.store_recovered': 'Times header storage worked again after failing.',
  'router.node_unconnecting':
    "Headers from the node that do not connect to altnet's chain (the node is ahead); altnet asks it from its best chain.",
  'router.node_sync_requests': 'getheaders requests sent to the node to catch up with it.',
  'router.node_block_inv': 'Block announcements (inv) from the node for blocks altnet did not know.',
  'outbox.errors': 'Outbox entries that could not be read, sent or moved (see the log).',
  'outbox.deferred': 'Outbox transactions held back for a later try (links busy or down).',
  'outbox.cancelled': 'Outbox transactions whose file was removed before they were seen back.',
  'outbox.read_errors': 'Outbox files that could not be read.',
  'outbox.bad': 'Outbox files that are no valid transaction, moved to the outbox bad/ directory.',
  'outbox.send_errors': 'Failed sends of outbox transactions to a link or the node.',
  'outbox.relayed': 'Outbox transactions acknowledged over radio (TXACK): a gateway handed them to its node; radio resends stop.',
  'outbox.acks_unmatched': 'Transaction acknowledgements (TXACK) that matched no pending outbox transaction.',
  'txack.accepted': 'Transactions from a link that the node took; each gets TXACK frames back on that link.',
  'txack.repeated': 'Resent transactions acknowledged again (the first TXACK may have been lost).',
  'txack.capped': 'Resent transactions not acknowledged again: their TXACK frames reached the cap per transaction (MAX_ACKS_PER_TX).',
  'txack.sent': 'TXACK frames sent on links.',
  'txack.not_sent': 'TXACK frames that could not be sent (the link was down or cannot transmit).',
  'txack.gave_up': 'Transactions whose TXACK frames were all sent or could not be; no more are sent.',
  'txack.dropped': 'Transactions no longer acknowledged because too many were waiting (the oldest goes first).',
  'txack.unparsable': 'Transactions from a link that did not parse, so no TXACK could be made.',
  'rescue.probes': "Times altnet asked the node (getheaders with a locator) where its chain forks from altnet's.",
  'rescue.started': "Rescues started: the links' chain has more work than the node's and blocks are fetched.",
  'rescue.completed': "Rescues that ended with the node's active tip on altnet's best chain.",
  'rescue.failed': 'Rescues that ended without the node switching (blocks missing or refused); tried again with backoff.',
  'rescue.errors': 'Rescues stopped by an error (see the log).',
  'rescue.no_block_links': 'Rescues not started because no link can fetch blocks (a radio-only gateway), once per better tip.',
  'rescue.blocks_p2p': "Blocks pushed to the node over P2P during rescues (kept by Core only with at least its active tip's work).",
  'rescue.blocks_rpc': 'Blocks handed to the node with submitblock over RPC (noderpc=) during rescues.',
  'rescue.rpc_rejected': 'Blocks the node refused through submitblock.',
  'rescue.rpc_errors': 'submitblock calls that failed (the RPC could not be reached or errored).',
  'rescue.retries': 'Rescues tried again after a failed one (each waits 30 s, doubling per failure in a row, at most 30 min).',
  'rescue.failures_in_a_row': 'Rescues failed in a row since the last one completed (0: none failing).',
  'alerts.notify_sent': 'alertnotify commands run.',
  'alerts.notify_failures': 'alertnotify commands that failed or timed out.',
  'alerts.webhook_sent': 'alertwebhook posts delivered.',
  'alerts.webhook_failures': 'alertwebhook posts that failed.',
  'alerts.suppressed.flap': 'Alerts not sent because the anomaly was flapping (raised and cleared again quickly).',
  'alerts.suppressed.rate': 'Alerts not sent because of the alert rate limit.',
  'alerts.dropped.queue_full': 'Alerts dropped because too many were waiting to be sent.',
  'watchdog.links-ignored': 'Links the watchdog does not watch for silence because it watches its maximum number already.',
  'hotplug.scans': 'Scans of the device directory for plugged-in radios.',
  'hotplug.scan_errors': 'Device directory scans that failed.',
  'hotplug.devices': 'Devices that appeared in or disappeared from the device directory, by event.',
  'hotplug.listener_errors': 'Errors thrown by code reacting to a device event (see the log).',
  'process.rss_bytes': 'Resident memory of this process, bytes.',
  'process.eventloop_lag_seconds': "Mean delay of this process's event loop over the last interval.",
  'process.eventloop_lag_max_seconds': "Worst delay of this process's event loop over the last interval.",
  'bip324proxy.connections': 'Connections accepted by the BIP324 proxy.',
  'bip324proxy.connections_refused': 'Connections to the BIP324 proxy refused (over its connection limit).',
  'bip324proxy.open': 'BIP324 proxy connections open now.',
  'bip324proxy.socks5': 'Proxy connections that named their destination by SOCKS5.',
  'bip324proxy.plain': 'Proxy connections of plain v1 clients (destination from their version message or to=).',
  'bip324proxy.bytes_from_client': 'Bytes the proxy received from its clients.',
  'bip324proxy.bytes_from_dest': 'Bytes the proxy received from destinations.',
  'bip324proxy.messages_to_dest': 'P2P messages forwarded to destinations.',
  'bip324proxy.messages_to_client': 'P2P messages forwarded to clients.',
  'bip324proxy.v2_sessions': 'BIP324 v2 sessions established with destinations.',
  'bip324proxy.v1_fallbacks': 'Connections forwarded as unencrypted v1 because the destination does not speak v2 (allowv1=1).',
  'bip324proxy.backpressure_pauses': 'Times the proxy stopped reading one side because the other did not read.',
  'bip324proxy.errors': 'Proxy connections closed by an error, by error code.',
  'node.v2.error': 'BIP324 v2 session errors on node connections, by code.',
  'link.*.v2.error': 'BIP324 v2 session errors on the link, by code.',
  'bip324proxy.v2.error': 'BIP324 v2 session errors on proxy connections, by code.',
  'link.*.block_timeouts': 'Block requests to the link that timed out.',
  'link.*.blocks_requested': 'Blocks requested from the link.',
  'link.*.blocks_verified': 'Blocks from the link that passed verification.',
  'link.*.blocks_missing': 'Blocks the link said it does not have.',
  'link.*.blocks_unwanted': 'Blocks from the link that nobody asked for, dropped.',
  'link.*.invalid_blocks': 'Blocks from the link that failed verification.',
  'link.*.unexpected_rx': 'Messages from the link of a kind it should not send (e.g. headers from a transmit-only link), dropped.',
  'link.*.follow_ups': 'Header requests sent to the link to follow up a tip or a delivery.',
  'link.*.sync_retries': 'Header requests to the link repeated because it did not answer.',
  'link.*.ignored_quarantined': 'Deliveries from the link ignored while it was quarantined.',
  'link.*.failure': 'Failed requests to the internet source, by error code.',
  'link.*.lies': 'Times the internet source was caught sending data that contradicts the chain (it is then refused).',
  'link.*.lie': 'Lies caught from the internet source, by kind.',
  'link.*.refused.marked': 'Requests not made because the source was caught lying before.',
  'link.*.bad-answers': 'Answers from the internet source that did not parse or made no sense.',
  'link.*.reconnect.failures': 'Failed reconnects to the Electrum server.',
  'link.*.polls': "Polls of the internet source's tip.",
  'link.*.poll.next_at_ms': 'When the source is next polled on its own, ms since the epoch (0: no poll pending).',
  'link.*.poll.why': 'Why the next poll is when it is: 1 regular interval, 2 random delay after a new block, 3 backing off after failures.',
  'link.*.poll.failures': 'Failures in a row of the source (timeouts, unreachable, HTTP 429, captcha pages); 0 once it answers.',
  'link.*.headers': 'Headers fetched from the internet source.',
  'link.*.headers.none-new': 'Header requests the P2P peer answered with no new header.',
  'link.*.locator.scanned': 'Locator entries checked against the source to find where chains fork.',
  'link.*.locator.unresolved': 'Header requests whose locator matched nothing the source knows.',
  'link.*.tip.moved': "Times the source's tip changed.",
  'link.*.tip.short-run': 'Times the source had more headers than its tip said (its tip lagged behind its headers).',
  'link.*.tip.pushed': 'Tips the source pushed to altnet (subscriptions).',
  'link.*.reorg.during-request': 'Header requests the source answered across a reorganisation, asked again.',
  'link.*.blocks.requested': 'Blocks requested from the P2P peer.',
  'link.*.blocks.received': 'Blocks received from the source.',
  'link.*.blocks.bytes': 'Bytes of blocks received from the source.',
  'link.*.blocks.failed': 'Block requests to the source that failed.',
  'link.*.blocks.unrequested': 'Blocks the P2P peer sent unasked, dropped.',
  'link.*.blocks.notfound': 'Block requests the P2P peer answered with notfound.',
  'link.*.tx.sent': 'Transactions sent to the P2P peer.',
  'link.*.v2.refused': 'P2P peers that refused a BIP324 v2 connection.',
  'link.*.v2.packets_sent': 'BIP324 v2 packets sent on the link.',
  'link.*.v2.packets_received': 'BIP324 v2 packets received on the link.',
  'link.*.v2.decoys_sent': 'BIP324 decoy packets sent on the link.',
  'link.*.v2.decoys_received': 'BIP324 decoy packets received on the link.',
  'link.*.v2.v1_detected': 'Peers of the link that answered the v2 key as v1 speakers.',
  'link.*.v2.unknown_message_id': 'BIP324 packets on the link with a short message id not known to altnet.',
  'node.v2.packets_sent': 'BIP324 v2 packets sent to the node.',
  'node.v2.packets_received': 'BIP324 v2 packets received from the node.',
  'node.v2.decoys_sent': 'BIP324 decoy packets sent to the node.',
  'node.v2.decoys_received': 'BIP324 decoy packets received from the node.',
  'node.v2.v1_detected': 'Node connections detected as v1 on the v2 listener.',
  'node.v2.unknown_message_id': 'BIP324 packets from the node with an unknown short message id.',
  'bip324proxy.v2.packets_sent': 'BIP324 v2 packets the proxy sent to destinations.',
  'bip324proxy.v2.packets_received': 'BIP324 v2 packets the proxy received from destinations.',
  'bip324proxy.v2.decoys_sent': 'BIP324 decoy packets the proxy sent.',
  'bip324proxy.v2.decoys_received': 'BIP324 decoy packets the proxy received.',
  'bip324proxy.v2.v1_detected': 'Destinations detected as v1 speakers by the proxy.',
  'bip324proxy.v2.unknown_message_id': 'BIP324 packets from destinations with an unknown short message id.',
  'link.*.book.damaged': 'Times the peer address book file was found damaged and started afresh.',
  'link.*.book.write-failed': 'Failed writes of the peer address book.',
  'link.*.seed.addresses': 'Peer addresses learnt from DNS seeds.',
  'link.*.seed.failures': 'DNS seed lookups that failed.',
  'link.*.connected': 'Random P2P peers connected now.',
  'link.*.rotated': 'Random P2P peers replaced by new ones (rotation).',
  'link.*.addr.heard': 'Peer addresses heard from peers (addr messages).',
  'link.*.addr.new': 'Peer addresses new to the address book.',
  'link.*.banned': 'Random P2P peers banned for misbehaving.',
  'link.*.seed.unroutable': 'Addresses from DNS seeds that are not public (LAN, loopback, documentation ranges), not used.',
  'link.*.addr.unroutable': 'Addresses heard from peers that are not public (LAN, loopback, documentation ranges), not used.',
  'link.*.addr.capped': 'Addresses heard from a peer beyond what one peer may add to the address book, not used.',
  'link.*.fixed-seeds.added': "Addresses from Bitcoin Core's fixed seeds added to the address book (when the DNS seeds gave none).",
  'link.*.fixed-seeds.malformed': 'Fixed-seed entries that did not parse, skipped.',
  'link.*.addrv2.skipped': 'addrv2 entries skipped (networks altnet cannot reach, or unknown network ids).',
  'link.*.addr.malformed': 'addr/addrv2 messages from the peer breaking their bounds, dropped whole.',
  'link.*.requests.joined': 'Header requests merged into one already queued (the newer locator wins).',
  'link.*.requests.deferred': 'Header requests held for the next poll because the source is being given a rest (backoff).',
  'link.*.polls.after-block': 'Polls of the source brought forward because another link announced a new block.',
  'link.*.header_batches_tx': 'Header batches transmitted on the link.',
  'link.*.header_batches_rx': 'Header batches received on the link and decoded.',
  'link.*.header_batches_skipped_busy': 'Beacon header batches skipped because the link was still sending the last ones.',
  'link.*.beacon_asks':
    'Times the link asked the gateway for its next beacon batch (its last one had left and beaconinterval= had passed).',
  'link.*.header_batch_repeats':
    'Beacon batches sent again with the same message id and fresh repair symbols (a receiver adds up the passes).',
  'link.*.batch_frames_tx': 'Frames of header batches transmitted.',
  'link.*.batch_repeat_frames_tx':
    'Frames of header batches transmitted on a repeat pass of a batch already sent (fountain repair symbols or a whole pass again); part of batch_frames_tx.',
  'link.*.radio_requests':
    'Header requests the gateway sent on a duplex radio for the range it lacked (a peer claimed a better tip, or a full answer moved our tip).',
  'link.*.kiss_paced': 'Frames held back before going to the KISS TNC until the previous ones had left the air (by the airtime model).',
  'link.*.batch_bytes_tx': 'Bytes of header batch frames transmitted (altnet frames, without the modem framing).',
  'link.*.header_batches_waiting': 'Compact header batches held until the header they build on arrives.',
  'link.*.header_batches_waiting_again': 'Compact header batches heard again while the same batch already waited for its parent.',
  'link.*.header_batches_dropped': 'Compact header batches dropped (too many waited: the one farthest from our newest header goes).',
  'link.*.header_requests_tx': 'Header requests transmitted on the link.',
  'link.*.header_requests_rx': 'Header requests received on the link.',
  'link.*.header_requests_waiting_context':
    'Header requests held by the link until the chain context arrived (their locator named no header it knew yet); sent then.',
  'link.*.header_requests_superseded': 'Held header requests replaced by a newer one before the chain context arrived.',
  'link.*.header_requests_not_sent':
    'Header requests the link could not send, by reason (rx_only: it cannot transmit; no_context: no locator entry in its chain context).',
  'link.*.radio_request_retries':
    'Header requests asked again on a duplex radio because no headers came from it in about the airtime of a full answer (lost on air, or no peer heard it).',
  'link.*.radio_requests_skipped_in_step':
    'Header requests not sent on a duplex radio because its peer last told us of a tip that is ours (a tip frame, or its own request): it has nothing for us.',
  'link.*.radio_requests_unanswered':
    'Times a duplex radio left our header request and its retries unanswered (no peer ahead of us heard it).',
  'link.*.tips_superseded': 'Queued tip announcements replaced by a newer tip before they were sent.',
  'link.*.tips_unresolved':
    'Tip announcements whose header could not be rebuilt yet (its parent unknown); the height still counts, and the tip waits for its parent.',
  'link.*.tips_joined': 'New tips sent together with the tip still waiting for the radio (one small header batch) instead of replacing it.',
  'link.*.tips_resolved_late': 'Tip announcements rebuilt once their parent arrived in a later batch (a receiver catching up).',
  'link.*.tx_tx': 'Transactions transmitted on the link.',
  'link.*.txacks_tx': 'Transaction acknowledgements (TXACK) transmitted on the link.',
  'link.*.txacks_rx': 'Transaction acknowledgements (TXACK) received on the link.',
  'link.*.send_errors': 'Frames the link could not send, by error code.',
  'link.*.frames_bad': 'Frames received on the link that failed to decode, by error code.',
  'link.*.frames_ignored': 'Frames received on the link of a type this gateway does not use.',
  'link.*.last_frame_rx_at_ms': 'When the link last received a frame (milliseconds since the Unix epoch).',
  'link.*.reassembly': 'Fragment reassembly events on the link (fragments, duplicates, dropped...), by event.',
  'link.*.arq.frames': 'Fragments resent on request (ARQ) on the link.',
  'link.*.arq.delivered': 'Messages the far end confirmed complete (ARQ).',
  'link.*.arq.failed': 'Messages given up after their ARQ tries.',
  'link.*.arq.probe': 'ARQ probes sent to ask the far end what it misses.',
  'link.*.arq.malformed': 'ARQ control frames that did not parse.',
  'link.*.arq.ack-unknown': 'ARQ acknowledgements for messages this side does not know.',
  'link.*.frames_sent': 'Frames the radio reported sent.',
  'link.*.frames_received': 'Frames received from the radio.',
  'link.*.frames_failed': 'Frames given up after the radio failed to send them.',
  'link.*.frames_aborted': 'Queued frames dropped because the link closed.',
  'link.*.frames_deferred': 'Frames that waited for the duty-cycle budget.',
  'link.*.frames_too_large': 'Frames larger than the radio can send, refused.',
  'link.*.frames_over_airtime_limit': 'Frames whose airtime exceeds the per-frame limit, refused.',
  'link.*.send_on_rx_only': 'Frames refused because the link is receive-only.',
  'link.*.queue_full': 'Frames refused because the transmit queue was full.',
  'link.*.transmit_failures': 'Transmissions the radio reported failed (each may be retried).',
  'link.*.open_failures': 'Failed attempts to open the radio device.',
  'link.*.channel_lost': 'Times the connection to the radio device was lost.',
  'link.*.recover': "Times the driver set the radio up again after a fault, by the fault's error code.",
  'link.*.recover_failures': 'Failed attempts to bring the radio back after an error.',
  'link.*.airtime_ms': 'Milliseconds of airtime used by the link.',
  'link.*.transmissions': 'Transmissions counted against the duty-cycle limit.',
  'link.*.airtime_window_used_ms': 'Airtime used in the current duty-cycle window, ms.',
  'link.*.airtime_window_budget_ms': 'Airtime the duty-cycle limit allows per window, ms.',
  'link.*.airtime_window_ms': 'Length of the duty-cycle window, ms.',
  'link.*.next_tx_at_ms':
    'When the link may transmit next under its duty-cycle limit (milliseconds since the Unix epoch, wall clock also on compressed time; 0 now).',
  'link.*.timescale':
    'How many times faster than real time this simulated link runs (option timescale=; absent at 1): its airtime figures and duty-cycle window are in that compressed time.',
  'link.*.tx_done_timeouts': 'Frames whose TX-done report from the simulated air never came.',
  'link.*.garbage': 'Lines from the modem that are not text, by kind (overlong, not UTF-8).',
  'link.*.modem_resets': 'Times the modem reset itself or turned its radio off unasked; the driver configures it again.',
  'link.*.rnode_reboots': 'Boot announcements from the RNode.',
  'link.*.rnode_error': 'Errors reported by the RNode firmware, by code.',
  'link.*.rn_rx_errors': 'Receive errors reported by the RN2483 (radio_err).',
  'link.*.mesh-console-bytes': 'Bytes of Meshtastic debug console output skipped between frames.',
  'link.*.mesh-ble-reads': 'Reads of the Meshtastic FromRadio characteristic.',
  'link.*.mesh-ble-bytes-dropped': 'Bytes from the Meshtastic node over BLE dropped (too many waiting).',
  'link.*.kiss_other_port': 'KISS frames for another TNC port, ignored.',
  'link.*.ax25_foreign': 'AX.25 frames not addressed to altnet, ignored.',
  'link.*.ax25_own_echo': 'AX.25 frames from our own callsign heard back, ignored.',
  'link.*.connects': 'Times the link connected to its device.',
  'link.*.disconnects': 'Times the link lost its device.',
  'link.*.adapter_failures': 'Failures of the Bluetooth adapter.',
  'link.*.hci_malformed': 'Malformed Bluetooth HCI events.',
  'link.*.att_mtu': 'The Bluetooth ATT MTU negotiated with the device.',
  'link.*.tx_writes': 'Bluetooth characteristic writes.',
  'link.*.tx_bytes': 'Bytes written over Bluetooth.',
  'link.*.tx_frames': 'Frames sent over Bluetooth.',
  'link.*.tx_failed': 'Frames whose Bluetooth write failed.',
  'link.*.tx_queue': 'Frames waiting to be written over Bluetooth.',
  'link.*.tx_queue_full': 'Frames refused because the Bluetooth write queue was full.',
  'link.*.tx_too_large': 'Frames too large to send over Bluetooth, refused.',
  'link.*.rx_bytes': 'Bytes received over Bluetooth.',
  'link.*.rx_frames': 'Frames received over Bluetooth.',
  'link.*.rx_garbage_bytes': 'Bytes received over Bluetooth outside any frame.',
  'link.*.rx_bad_frames': 'Frames received over Bluetooth that did not decode.',
  'link.*.rx_oversize': 'Frames received over Bluetooth longer than allowed, dropped.',
  'link.*.rx_non_data': 'KISS frames received over Bluetooth that are not data (commands), ignored.',
  'link.*.rx_early_dropped': 'Bytes from the Bluetooth device before the driver was ready, dropped over the limit.',
  'link.*.rx_ax25_malformed': 'AX.25 frames received over Bluetooth that did not parse.',
  'link.*.rx_ax25_foreign': 'AX.25 frames received over Bluetooth not addressed to altnet, ignored.',
  'link.*.rx_ax25_own_echo': 'AX.25 frames with our own callsign heard back over Bluetooth, ignored.',
  'link.*.handler_errors': 'Errors thrown while handling received Bluetooth data (see the log).',
};

/** What a name lacking HELP says about itself: its origin, honestly, instead of filler. */
function fallbackHelp(pattern: string, isGauge: boolean): string {
  return `${isGauge ? 'Gauge' : 'Count'} "${pattern}" from altnet's counters (no description yet; see the code that names it).`;
}

interface Sample {
  labels: Array<[string, string]>;
  value: number;
}

interface Family {
  name: string;
  type: 'counter' | 'gauge';
  help: string;
  samples: Map<string, Sample>;
}

/** Replaces what Prometheus names may not contain; a leading digit gets an underscore. */
export function sanitizeMetricName(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  return out;
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * `link.lora0.frames_rx` -> { pattern: 'link.*.frames_rx', base: 'link.frames_rx', labels: [link=lora0] };
 * `node.msg_in.ping` -> { pattern: 'node.msg_in', base: 'node.msg_in', labels: [command=ping] }.
 */
function splitName(name: string): { pattern: string; base: string; labels: Array<[string, string]> } {
  const labels: Array<[string, string]> = [];
  let pattern = name;
  let base = name;
  const m = /^link\.([^.]+)\.(.+)$/.exec(name);
  if (m) {
    pattern = `link.*.${m[2]}`;
    base = `link.${m[2]}`;
    labels.push(['link', m[1]]);
  }
  for (const r of LABEL_RULES) {
    if (pattern.startsWith(r.prefix) && pattern.length > r.prefix.length) {
      labels.push([r.label, pattern.slice(r.prefix.length)]);
      pattern = r.prefix.slice(0, -1);
      base = r.prefix.replace('*.', '').slice(0, -1);
      break;
    }
  }
  return { pattern, base, labels };
}

/** Renders a Counters snapshot (plus gauges) as Prometheus text. Pure. */
export function renderPrometheus(snapshot: Record<string, number>, meta: MetricsMeta = {}): string {
  const ns = sanitizeMetricName(meta.namespace ?? 'altnet');
  const gaugeNames = new Set(meta.gaugeNames ?? []);
  const families = new Map<string, Family>();

  const add = (storeName: string, value: number, forceGauge: boolean): void => {
    if (typeof value !== 'number') return;
    const { pattern, base, labels } = splitName(storeName);
    const isGauge = forceGauge || gaugeNames.has(storeName) || gaugeNames.has(pattern);
    let name = sanitizeMetricName(`${ns}_${base}`);
    if (!isGauge && !name.endsWith('_total')) name += '_total';
    // A counter and a gauge that sanitise to one name cannot share a family.
    let fam = families.get(name);
    if (fam && fam.type !== (isGauge ? 'gauge' : 'counter')) {
      name = `${name}_${isGauge ? 'gauge' : 'counter'}`;
      fam = families.get(name);
    }
    if (!fam) {
      const help =
        meta.help?.[storeName] ??
        meta.help?.[pattern] ??
        meta.help?.[name] ??
        METRIC_HELP[storeName] ??
        METRIC_HELP[pattern] ??
        fallbackHelp(pattern, isGauge);
      families.set(name, (fam = { name, type: isGauge ? 'gauge' : 'counter', help, samples: new Map() }));
    }
    const key = labels.map(([k, v]) => `${k}=${v}`).join(',');
    const existing = fam.samples.get(key);
    // Two store names that differ only in characters Prometheus forbids: counters add up.
    if (existing) existing.value = fam.type === 'counter' ? existing.value + value : value;
    else fam.samples.set(key, { labels, value });
  };

  for (const [k, v] of Object.entries(snapshot)) add(k, v, false);
  for (const [k, v] of Object.entries(meta.values ?? {})) if (!(k in snapshot)) add(k, v, false);
  for (const [k, v] of Object.entries(meta.gauges ?? {})) add(k, v, true);

  const lines: string[] = [];
  if (meta.info && Object.keys(meta.info).length > 0) {
    const name = `${ns}_info`;
    const labels = Object.entries(meta.info)
      .map(([k, v]) => `${sanitizeLabelName(k)}="${escapeLabelValue(v)}"`)
      .join(',');
    lines.push(`# HELP ${name} Constant 1; the labels describe this altnet.`, `# TYPE ${name} gauge`, `${name}{${labels}} 1`);
  }
  for (const f of meta.families ?? []) {
    const name = sanitizeMetricName(`${ns}_${f.name}`);
    if (families.has(name)) continue; // the store has it already; one TYPE per family
    const fam: Family = { name, type: f.type, help: f.help, samples: new Map() };
    for (const smp of f.samples) {
      const labels = Object.entries(smp.labels).map(([k, v]) => [sanitizeLabelName(k), v] as [string, string]);
      fam.samples.set(labels.map(([k, v]) => `${k}=${v}`).join(','), { labels, value: smp.value });
    }
    families.set(name, fam);
  }
  for (const fam of [...families.values()].sort((a, b) => compareNames(a.name, b.name))) {
    lines.push(`# HELP ${fam.name} ${escapeHelp(fam.help)}`);
    lines.push(`# TYPE ${fam.name} ${fam.type}`);
    const samples = [...fam.samples.entries()].sort(([a], [b]) => compareNames(a, b)).map(([, s]) => s);
    for (const s of samples) {
      const labels = s.labels.length ? `{${s.labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}` : '';
      lines.push(`${fam.name}${labels} ${formatValue(s.value)}`);
    }
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

function sanitizeLabelName(s: string): string {
  let out = s.replace(/[^a-zA-Z0-9_]/g, '_');
  if (/^[0-9]/.test(out)) out = '_' + out;
  if (out.startsWith('__')) out = 'x' + out; // `__` is reserved for Prometheus itself
  return out;
}

export interface MetricsServerOptions {
  host: string;
  /** 0 picks a free port (tests); the chosen one is returned. */
  port: number;
  counters: Counters;
  log: Logger;
  /** Called at every scrape for gauges and labels that are computed, not counted. */
  meta?: () => MetricsMeta;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** Why the metrics port could not be opened, naming the `metrics=` setting to change. */
function listenError(host: string, port: number, err: NodeJS.ErrnoException): AltnetError {
  const at = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (err.code === 'EADDRINUSE') {
    return new ConfigError(
      'metrics-port-in-use',
      `metrics=${at}: port ${port} is already in use by another program (another altnet, or a Prometheus exporter); set metrics= to a free port, e.g. metrics=${host.includes(':') ? `[${host}]` : host}:${port + 1}, or metrics=off`,
      { cause: err },
    );
  }
  if (err.code === 'EACCES') {
    return new ConfigError(
      'metrics-port-denied',
      `metrics=${at}: not allowed to listen on port ${port} (ports below 1024 need privileges); set metrics= to a port above 1023`,
      { cause: err },
    );
  }
  if (err.code === 'EADDRNOTAVAIL') {
    return new ConfigError('metrics-address-unavailable', `metrics=${at}: this machine has no address ${host}; use 127.0.0.1 or ::1`, {
      cause: err,
    });
  }
  return new AltnetError('metrics-listen-failed', `metrics=${at}: cannot listen: ${err.message}`, { cause: err });
}

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Serves GET /metrics on a loopback address. Refuses any other address. */
export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  if (!isLoopback(opts.host)) {
    throw new ConfigError(
      'metrics-not-loopback',
      `metrics address ${opts.host} is not loopback; metrics are served on 127.0.0.1 or ::1 only (scrape them through an SSH tunnel or a local Prometheus)`,
    );
  }
  const log = opts.log.child('metrics');
  // node:http only when metrics are served (off by default): 0.6 MB PSS a process (issue 18).
  // process.getBuiltinModule, not import(): an import() in the daemon's CommonJS bundle would
  // start Node's ESM loader.
  const { createServer } = process.getBuiltinModule('node:http');
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path !== '/metrics' && path !== '/') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; try /metrics\n');
      return;
    }
    let body: string;
    try {
      const meta = opts.meta?.() ?? {};
      // Names written with Counters.set() are gauges.
      body = renderPrometheus(opts.counters.snapshot(), {
        ...meta,
        gaugeNames: [...(meta.gaugeNames ?? []), ...opts.counters.gaugeNames()],
      });
    } catch (err) {
      log.error('rendering metrics failed', { error: (err as Error).message });
      res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      return;
    }
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  // A scraper that never finishes its request must not pin a socket forever.
  server.requestTimeout = 10_000;
  server.headersTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(listenError(opts.host, opts.port, err)));
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log.error('metrics server error', { error: err.message }));
  const port = (server.address() as AddressInfo).port;
  log.info('metrics listening', { url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/metrics` });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
