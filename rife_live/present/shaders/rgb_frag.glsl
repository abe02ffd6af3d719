#version 330 core
in vec2 v_uv;
out vec4 frag_color;
uniform sampler2D u_rgb;

// The renderer puts color.glsl (map_color) here, with its constants defined.
#pragma rife_include color

void main() {
    frag_color = vec4(map_color(texture(u_rgb, v_uv).rgb), 1.0);
}
