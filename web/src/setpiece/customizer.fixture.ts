// What `POST /v1/render/parameters` answers for the default set piece and for a model with
// every other kind of parameter (made by the render service, through the gateway's JSON).
import type { Parameter } from "./customizer";

export const DEFAULT_PARAMETERS: Parameter[] = [
  { name: "wall_colour", type: "colour", default: "#c0392b", description: "The wall's colour", group: "Colours", choices: [] },
  { name: "floor_colour", type: "colour", default: "#3c6e47", description: "The floor's colour", group: "Colours", choices: [] },
  {
    name: "width",
    type: "number",
    default: 40.0,
    description: "Width and depth of the set, in mm",
    group: "Size",
    minimum: 10.0,
    maximum: 100.0,
    step: 5.0,
    choices: [],
  },
  {
    name: "height",
    type: "number",
    default: 20.0,
    description: "Height of the wall, in mm",
    group: "Size",
    minimum: 5.0,
    maximum: 60.0,
    choices: [],
  },
  { name: "doorway", type: "boolean", default: true, description: "A doorway in the wall", group: "Size", choices: [] },
];

export const OTHER_PARAMETERS: Parameter[] = [
  {
    name: "kind",
    type: "choice",
    default: "wood",
    group: "More",
    choices: [
      { value: "wood", label: "Wood" },
      { value: "stone", label: "Stone" },
    ],
    description: "",
  },
  { name: "label", type: "string", default: "Yard", group: "More", max_length: 12, description: "", choices: [] },
  { name: "offset", type: "vector", default: [1.0, 2.0, 3.0], group: "More", minimum: -10.0, maximum: 10.0, length: 3, description: "", choices: [] },
  { name: "turns", type: "number", default: 2.0, group: "More", step: 0.5, description: "", choices: [] },
  { name: "sides", type: "number", default: 6.0, group: "More", description: "", choices: [] },
];
