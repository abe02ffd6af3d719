#version 330 core
// OSD quads in window pixels (origin top-left) with a glyph-atlas coordinate and a colour.
layout(location = 0) in vec2 a_pos;
layout(location = 1) in vec2 a_uv;
layout(location = 2) in vec4 a_color;
out vec2 v_uv;
out vec4 v_color;
uniform vec2 u_viewport;

void main() {
    v_uv = a_uv;
    v_color = a_color;
    vec2 ndc = a_pos / u_viewport * 2.0 - 1.0;
    gl_Position = vec4(ndc.x, -ndc.y, 0.0, 1.0);
}
