// A stage flat for a puppet show: a framed wall panel with an arched doorway, a sign above it
// and an optional window. Every parameter below is what OpenSCAD's Customizer would show.

use <MCAD/shapes.scad>

/* [Wall] */

// Width of the flat in millimetres
width = 120; // [40:400]

// Height of the flat
height = 90; // [40:5:300]

// Board thickness
thickness = 3; // 0.5

// Wall paint, also offered as a colour picker
wall_colour = "SteelBlue";

/* [Doorway] */

// Shape of the doorway
door_shape = "arch"; // [arch, square, none]

// Door size
door_size = 20; // [20:Small, 30:Medium, 40:Large]

door_offset = [0, 0]; // [-50:50]

/* [Sign] */

// Text painted above the door
sign_text = "THE INN"; // 12

// Sign trim
trim = [0.8, 0.6, 0.2];

sign_font_size = 8; // [4, 6, 8, 10]

// Sign background; "transparent" hides it
sign_paint = "#fff8"; // [colour]

/* [Options] */

// Cut a window next to the door
with_window = true;

frame = [2, 2, 2]; // [0:10]

// Not a parameter: an expression
frame_depth = 2 * thickness;

/* [Hidden] */

$fn = 48;
epsilon = 0.01;

/* [Options] */

// Visible again: a later tab after the hidden one
window_size = 15;

// Tint of the window glass
window_tint = [0.4, 0.8, 1, 0.6]; // [color]

module pane(tint) color(tint) cube([window_size, window_size, 0.5]);

module door_cut() {
    if (door_shape == "arch") {
        translate([0, 0, -1]) cube([door_size, door_size, thickness + 2]);
        translate([door_size / 2, door_size, -1]) cylinder(d = door_size, h = thickness + 2);
    } else if (door_shape == "square") {
        translate([0, 0, -1]) cube([door_size, door_size * 1.5, thickness + 2]);
    }
}

// Declared after the first module: not a customizer parameter
roof_pitch = 30;

color(wall_colour) difference() {
    cube([width, height, thickness]);
    translate([width / 2 - door_size / 2 + door_offset[0], door_offset[1], 0]) door_cut();
    if (with_window)
        translate([width * 0.75, height / 2, -1]) cube([window_size, window_size, thickness + 2]);
}
if (with_window) translate([width * 0.75, height / 2, thickness / 2]) pane(window_tint);
color(c = trim) translate([width / 2 - 30, height - 20, thickness])
    cube([60, 14, frame[2]]);
color(sign_paint, alpha = 0.9) translate([width / 2 - 28, height - 18, thickness + frame[2]])
    linear_extrude(1) text(sign_text, size = sign_font_size);
