// The canvas service's node types as GET /v1/canvas-node-types describes them
// (services/canvas/kinds/), for tests.

import type { NodeType } from "../api/graph";

export const NODE_TYPES: NodeType[] = [
  {
    "name": "character",
    "title": "Character",
    "description": "A person or creature who appears in shots.",
    "properties": {
      "type": "object",
      "description": "A character's look, in words and reference images.",
      "additionalProperties": false,
      "properties": {
        "name": {
          "type": "string",
          "description": "What the character is called.",
          "minLength": 1,
          "maxLength": 200
        },
        "description": {
          "type": "string",
          "description": "Appearance and costume, as the image model reads it.",
          "maxLength": 4000
        },
        "reference_images": {
          "type": "array",
          "description": "Uploaded images of the character.",
          "maxItems": 20,
          "uniqueItems": true,
          "items": {
            "type": "string",
            "description": "An uploaded image's blob id.",
            "pattern": "^[0-9a-f]{64}$",
            "maxLength": 64
          }
        },
        "lora": {
          "type": "object",
          "description": "A LoRA adapter trained on this character.",
          "additionalProperties": false,
          "properties": {
            "name": {
              "type": "string",
              "description": "The adapter's name.",
              "minLength": 1,
              "maxLength": 200
            },
            "weight": {
              "type": "number",
              "description": "How strongly the adapter applies.",
              "minimum": -2,
              "maximum": 2,
              "default": 1.0
            }
          },
          "required": [
            "name"
          ]
        },
        "attributes": {
          "type": "object",
          "description": "Free-form traits, such as hair colour or height.",
          "maxProperties": 50,
          "propertyNames": {
            "minLength": 1,
            "maxLength": 100
          },
          "additionalProperties": {
            "type": "string",
            "maxLength": 500
          }
        }
      },
      "required": [
        "name"
      ]
    },
    "inputs": [],
    "outputs": [
      {
        "name": "character",
        "type": "character",
        "min": 0,
        "max": null
      }
    ]
  },
  {
    "name": "scene",
    "title": "Scene",
    "description": "Where shots take place: a location with its light, mood and set.",
    "properties": {
      "type": "object",
      "description": "A place, its light and what stands in it.",
      "additionalProperties": false,
      "properties": {
        "location": {
          "type": "string",
          "description": "Where the scene is, such as 'a lighthouse'.",
          "minLength": 1,
          "maxLength": 200
        },
        "environment": {
          "type": "string",
          "description": "What surrounds the action, in words.",
          "maxLength": 2000
        },
        "time_of_day": {
          "type": "string",
          "description": "When the scene happens.",
          "enum": [
            "dawn",
            "morning",
            "midday",
            "afternoon",
            "dusk",
            "night"
          ]
        },
        "lighting": {
          "type": "string",
          "description": "The light the frames are drawn in.",
          "enum": [
            "day",
            "night",
            "golden-hour",
            "overcast",
            "interior"
          ],
          "default": "day"
        },
        "mood": {
          "type": "string",
          "description": "The colour mood of the frames.",
          "enum": [
            "neutral",
            "warm",
            "cool",
            "noir",
            "dreamy",
            "tense"
          ],
          "default": "neutral"
        },
        "backdrop": {
          "type": "string",
          "description": "An uploaded background image's blob id.",
          "pattern": "^[0-9a-f]{64}$",
          "maxLength": 64
        },
        "set_piece": {
          "type": "object",
          "description": "A 3D set, as an OpenSCAD program rendered behind the characters.",
          "additionalProperties": false,
          "properties": {
            "source": {
              "type": "string",
              "description": "The OpenSCAD program, at most 262144 bytes of UTF-8.",
              "minLength": 1,
              "maxLength": 262144
            },
            "values": {
              "type": "object",
              "description": "Customizer values, by parameter name.",
              "propertyNames": {
                "minLength": 1,
                "maxLength": 200
              },
              "additionalProperties": {
                "type": [
                  "number",
                  "string",
                  "boolean",
                  "array"
                ],
                "maxLength": 1000,
                "maxItems": 16,
                "items": {
                  "type": "number"
                }
              }
            },
            "parameter_set": {
              "type": "string",
              "description": "A parameter set of the program to start from.",
              "maxLength": 200
            }
          },
          "required": [
            "source"
          ]
        }
      },
      "required": [
        "location"
      ]
    },
    "inputs": [],
    "outputs": [
      {
        "name": "scene",
        "type": "scene",
        "min": 0,
        "max": null
      }
    ]
  },
  {
    "name": "shot",
    "title": "Shot",
    "description": "One storyboard frame: a scene, the characters in it and the camera.",
    "properties": {
      "type": "object",
      "description": "How the shot is framed and how long it lasts.",
      "additionalProperties": false,
      "properties": {
        "name": {
          "type": "string",
          "description": "The shot's caption.",
          "minLength": 1,
          "maxLength": 120
        },
        "camera_angle": {
          "type": "string",
          "description": "Where the camera looks from.",
          "enum": [
            "eye-level",
            "low",
            "high",
            "overhead",
            "dutch"
          ],
          "default": "eye-level"
        },
        "framing": {
          "type": "string",
          "description": "How much of the scene the frame holds.",
          "enum": [
            "wide",
            "medium",
            "close-up"
          ]
        },
        "duration_s": {
          "type": "number",
          "description": "How long the shot lasts, in seconds.",
          "minimum": 0.1,
          "maximum": 3600.0
        },
        "notes": {
          "type": "string",
          "description": "Directions for whoever draws or films it.",
          "maxLength": 4000
        }
      },
      "required": [
        "name",
        "framing",
        "duration_s"
      ]
    },
    "inputs": [
      {
        "name": "characters",
        "type": "character",
        "min": 0,
        "max": 6
      },
      {
        "name": "scene",
        "type": "scene",
        "min": 1,
        "max": 1
      }
    ],
    "outputs": [
      {
        "name": "frame",
        "type": "image",
        "min": 0,
        "max": null
      }
    ]
  }
];
