#version 330 core
// The atlas holds glyph coverage (0 or 1) in its red channel; it scales the colour's alpha.
in vec2 v_uv;
in vec4 v_color;
out vec4 frag_color;
uniform sampler2D u_atlas;

void main() {
    frag_color = vec4(v_color.rgb, v_color.a * texture(u_atlas, v_uv).r);
}
