// Typed views over the binary buffers anywidget hands us (DataView, ArrayBuffer or typed array).

/** A Float32Array view of a synced Bytes trait (empty when absent). */
export function asFloat32(value) {
  const bytes = asUint8(value);
  if (bytes.byteLength % 4 !== 0) return new Float32Array(0);
  if (bytes.byteOffset % 4 === 0) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return new Float32Array(bytes.slice().buffer); // unaligned: copy once
}

/** An Int32Array view of a synced Bytes trait (empty when absent). */
export function asInt32(value) {
  const bytes = asUint8(value);
  if (bytes.byteLength % 4 !== 0) return new Int32Array(0);
  if (bytes.byteOffset % 4 === 0) {
    return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  return new Int32Array(bytes.slice().buffer);
}

/** A Uint8Array view of a synced Bytes trait (empty when absent). */
export function asUint8(value) {
  if (!value) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  return new Uint8Array(0);
}
