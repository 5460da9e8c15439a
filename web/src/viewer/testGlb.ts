// GLBs made in the tests, shaped as the render service makes them (services/render/meshes.py):
// one mesh, a primitive per colour with positions, flat normals and indices, and a PBR
// material per colour (linear baseColorFactor, metallic 0, roughness 0.8).

const JSON_CHUNK = 0x4e4f534a;
const BIN_CHUNK = 0x004e4942;

/** A square of two triangles per colour (linear RGB), side by side, in metres. */
export function squaresGlb(colours: readonly (readonly [number, number, number])[]): ArrayBuffer {
  const positions: number[] = [];
  const normals: number[] = [];
  colours.forEach((_, index) => {
    const x = index * 0.02;
    positions.push(x, 0, 0, x + 0.01, 0, 0, x + 0.01, 0.01, 0, x, 0.01, 0);
    normals.push(0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1);
  });
  const indices = [0, 1, 2, 0, 2, 3];
  const vertexBytes = 4 * 3 * 4; // four corners of three floats
  const bin = new ArrayBuffer(colours.length * 2 * vertexBytes + 12);
  new Float32Array(bin, 0, positions.length).set(positions);
  new Float32Array(bin, positions.length * 4, normals.length).set(normals);
  new Uint16Array(bin, positions.length * 8, 6).set(indices);
  const views = [
    { buffer: 0, byteOffset: 0, byteLength: positions.length * 4, target: 34962 },
    { buffer: 0, byteOffset: positions.length * 4, byteLength: normals.length * 4, target: 34962 },
    { buffer: 0, byteOffset: positions.length * 8, byteLength: 12, target: 34963 },
  ];
  const accessors = colours.flatMap((_, index) => [
    {
      bufferView: 0,
      byteOffset: index * vertexBytes,
      componentType: 5126,
      count: 4,
      type: "VEC3",
      min: [index * 0.02, 0, 0],
      max: [index * 0.02 + 0.01, 0.01, 0],
    },
    { bufferView: 1, byteOffset: index * vertexBytes, componentType: 5126, count: 4, type: "VEC3" },
  ]);
  accessors.push({ bufferView: 2, byteOffset: 0, componentType: 5123, count: 6, type: "SCALAR" });
  const indexAccessor = accessors.length - 1;
  const json = {
    asset: { version: "2.0", generator: "Shotgraph tests" },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [
      {
        primitives: colours.map((_, index) => ({
          attributes: { POSITION: index * 2, NORMAL: index * 2 + 1 },
          indices: indexAccessor,
          material: index,
        })),
      },
    ],
    materials: colours.map((rgb) => ({
      pbrMetallicRoughness: {
        baseColorFactor: [...rgb, 1],
        metallicFactor: 0,
        roughnessFactor: 0.8,
      },
      alphaMode: "OPAQUE",
      doubleSided: false,
    })),
    accessors,
    bufferViews: views,
    buffers: [{ byteLength: bin.byteLength }],
  };
  return glb(JSON.stringify(json), bin);
}

/** A GLB container of `json` text and a binary chunk (each padded to 4 bytes). */
export function glb(json: string, bin: ArrayBuffer): ArrayBuffer {
  const text = new TextEncoder().encode(json);
  const jsonLength = Math.ceil(text.length / 4) * 4;
  const binLength = Math.ceil(bin.byteLength / 4) * 4;
  const total = 12 + 8 + jsonLength + 8 + binLength;
  const out = new ArrayBuffer(total);
  const view = new DataView(out);
  view.setUint32(0, 0x46546c67, true);
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonLength, true);
  view.setUint32(16, JSON_CHUNK, true);
  const bytes = new Uint8Array(out);
  bytes.fill(0x20, 20, 20 + jsonLength);
  bytes.set(text, 20);
  view.setUint32(20 + jsonLength, binLength, true);
  view.setUint32(24 + jsonLength, BIN_CHUNK, true);
  bytes.set(new Uint8Array(bin), 28 + jsonLength);
  return out;
}
