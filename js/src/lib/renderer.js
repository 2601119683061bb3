// A small raw-WebGL point renderer: one draw call, positions interpolated old -> new on the GPU.

const VS = `
attribute vec2 a_from;
attribute vec2 a_to;
attribute vec4 a_color;
uniform float u_t;
uniform vec2 u_center;
uniform vec2 u_scale;   // 2 * scale / (width, height)
uniform float u_size;
varying vec4 v_color;
void main() {
  vec2 p = mix(a_from, a_to, u_t);
  gl_Position = vec4((p - u_center) * u_scale, 0.0, 1.0);
  gl_PointSize = u_size;
  v_color = a_color;
}`;

const FS = `
precision mediump float;
varying vec4 v_color;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  float r = dot(d, d);
  if (r > 0.25) discard;
  gl_FragColor = vec4(v_color.rgb * v_color.a, v_color.a);
}`;

function compile(gl, type, src) {
  const s = gl.createShader(type);
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(s));
  return s;
}

export class PointRenderer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    const gl = canvas.getContext("webgl", { antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: false });
    if (!gl) throw new Error("WebGL is not available in this browser");
    this.gl = gl;
    this.canvas = canvas;
    const prog = gl.createProgram();
    gl.attachShader(prog, compile(gl, gl.VERTEX_SHADER, VS));
    gl.attachShader(prog, compile(gl, gl.FRAGMENT_SHADER, FS));
    gl.linkProgram(prog);
    if (!gl.getProgramParameter(prog, gl.LINK_STATUS)) throw new Error(gl.getProgramInfoLog(prog));
    this.prog = prog;
    this.loc = {
      from: gl.getAttribLocation(prog, "a_from"), to: gl.getAttribLocation(prog, "a_to"),
      color: gl.getAttribLocation(prog, "a_color"), t: gl.getUniformLocation(prog, "u_t"),
      center: gl.getUniformLocation(prog, "u_center"), scale: gl.getUniformLocation(prog, "u_scale"),
      size: gl.getUniformLocation(prog, "u_size"),
    };
    this.bufFrom = gl.createBuffer();
    this.bufTo = gl.createBuffer();
    this.bufColor = gl.createBuffer();
    this.n = 0;
  }

  /** Uploads start and end positions (Float32Array, 2 per point). */
  setPositions(from, to) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufFrom);
    gl.bufferData(gl.ARRAY_BUFFER, from, gl.DYNAMIC_DRAW);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufTo);
    gl.bufferData(gl.ARRAY_BUFFER, to, gl.DYNAMIC_DRAW);
    this.n = Math.min(from.length, to.length) >> 1;
  }

  /** Uploads colours (Uint8Array rgba, 4 per point). */
  setColors(rgba) {
    const gl = this.gl;
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufColor);
    gl.bufferData(gl.ARRAY_BUFFER, rgba, gl.DYNAMIC_DRAW);
    this.nColors = rgba.length >> 2;
  }

  /** Draws with view {cx, cy, scale} at interpolation t in [0, 1]; size in CSS pixels. */
  draw(view, t, size, dpr) {
    const gl = this.gl, c = this.canvas, L = this.loc;
    gl.viewport(0, 0, c.width, c.height);
    gl.clearColor(0, 0, 0, 0);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const n = Math.min(this.n, this.nColors || 0);
    if (!n) return;
    gl.useProgram(this.prog);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufFrom);
    gl.enableVertexAttribArray(L.from);
    gl.vertexAttribPointer(L.from, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufTo);
    gl.enableVertexAttribArray(L.to);
    gl.vertexAttribPointer(L.to, 2, gl.FLOAT, false, 0, 0);
    gl.bindBuffer(gl.ARRAY_BUFFER, this.bufColor);
    gl.enableVertexAttribArray(L.color);
    gl.vertexAttribPointer(L.color, 4, gl.UNSIGNED_BYTE, true, 0, 0);
    gl.uniform1f(L.t, t);
    gl.uniform2f(L.center, view.cx, view.cy);
    gl.uniform2f(L.scale, (2 * view.scale * dpr) / c.width, (2 * view.scale * dpr) / c.height);
    gl.uniform1f(L.size, size * dpr);
    gl.drawArrays(gl.POINTS, 0, n);
  }

  destroy() {
    const gl = this.gl;
    gl.deleteBuffer(this.bufFrom); gl.deleteBuffer(this.bufTo); gl.deleteBuffer(this.bufColor);
    gl.deleteProgram(this.prog);
  }
}

/** Ease-in-out cubic for the position animation. */
export function ease(t) {
  return t < 0.5 ? 4 * t * t * t : 1 - Math.pow(-2 * t + 2, 3) / 2;
}

/** The positions shown at interpolation t (CPU copy, used when a new update arrives mid-animation). */
export function interpolate(from, to, t) {
  const n = Math.min(from.length, to.length);
  const out = new Float32Array(to.length);
  out.set(to);
  for (let i = 0; i < n; i++) out[i] = from[i] + (to[i] - from[i]) * t;
  return out;
}
