#version 330 core
in vec2 v_uv;
out vec4 frag_color;
uniform sampler2D u_rgb;

void main() {
    frag_color = vec4(texture(u_rgb, v_uv).rgb, 1.0);
}
