// The TXACK frame's limits (codecs/frames.md 3.4), apart from the frame codec so that the IPC
// layer can bound its tx-ack messages without loading the header codec and node:crypto into
// every link process (issue 18: internet link processes need neither).

/** TXACK (codecs/frames.md 3.4): most transactions acknowledged in one frame. */
export const MAX_TXACK_ENTRIES = 16;
/** Bytes of each acknowledged txid: its first 8 bytes in internal order (as in `inv`). */
export const TXID_PREFIX_BYTES = 8;
