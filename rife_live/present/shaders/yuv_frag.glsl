#version 330 core
// Y'CbCr 4:2:0 planes (three GL_R8 textures, values 0..1) to R'G'B'.
// u_matrix and u_offset fold in the range (limited or full) and the colour matrix
// (BT.709 or BT.601): rgb = u_matrix * vec3(y, u, v) + u_offset.
in vec2 v_uv;
out vec4 frag_color;
uniform sampler2D u_y;
uniform sampler2D u_u;
uniform sampler2D u_v;
uniform mat3 u_matrix;
uniform vec3 u_offset;
uniform vec2 u_chroma_scale;  // luma size / (2 * chroma size): odd sizes round chroma up

void main() {
    vec2 chroma_uv = v_uv * u_chroma_scale;
    vec3 yuv = vec3(texture(u_y, v_uv).r, texture(u_u, chroma_uv).r, texture(u_v, chroma_uv).r);
    frag_color = vec4(clamp(u_matrix * yuv + u_offset, 0.0, 1.0), 1.0);
}
