// Colour mapping of the RGB program: the source's code values -> BT.709 SDR for the window
// (DESIGN.md §11). The same formulas as rife_live/color.py (to_sdr), which the tests compare with.
// The renderer inserts this file where rgb_frag.glsl asks for it, after #defines of the constants
// it declares once in Python: TRANSFER_NONE/SDR/PQ/HLG, CURVE_BT2390/HABLE/CLIP, the PQ, HLG and
// Hable constants, SDR_GAMMA and SIGNAL_FLOOR.

uniform int u_transfer;       // TRANSFER_NONE: code values go to the screen as they are
uniform int u_curve;          // the tone curve (--tone-mapping)
uniform mat3 u_gamut;         // linear source primaries -> linear BT.709
uniform vec3 u_luma;          // luminance weights of the source primaries (HLG's OOTF)
uniform float u_source_peak;  // nits: the brightest level of the content
uniform float u_target_peak;  // nits: SDR white (203, BT.2408)
uniform float u_hlg_gamma;    // the HLG system gamma for u_source_peak

vec3 pq_eotf(vec3 code) {
    vec3 p = pow(clamp(code, 0.0, 1.0), vec3(1.0 / PQ_M2));
    return PQ_MAX_NITS * pow(max(p - PQ_C1, 0.0) / (PQ_C2 - PQ_C3 * p), vec3(1.0 / PQ_M1));
}

float pq_eotf1(float code) {
    return pq_eotf(vec3(code)).r;
}

float pq_inverse_eotf(float nits) {
    float y = pow(clamp(nits / PQ_MAX_NITS, 0.0, 1.0), PQ_M1);
    return pow((PQ_C1 + PQ_C2 * y) / (1.0 + PQ_C3 * y), PQ_M2);
}

vec3 hlg_inverse_oetf(vec3 code) {
    vec3 e = clamp(code, 0.0, 1.0);
    vec3 low = e * e / 3.0;
    vec3 high = (exp((max(e, 0.5) - HLG_C) / HLG_A) + HLG_B) / 12.0;
    return mix(high, low, vec3(lessThanEqual(e, vec3(0.5))));
}

float bt2390(float nits) {
    float source_pq = pq_inverse_eotf(u_source_peak);
    float max_lum = pq_inverse_eotf(u_target_peak) / source_pq;
    if (max_lum >= 1.0) {
        return min(nits, u_target_peak);
    }
    float e = min(pq_inverse_eotf(nits) / source_pq, 1.0);
    float knee = 1.5 * max_lum - 0.5;
    if (e < knee) {
        return nits;
    }
    float t = (e - knee) / (1.0 - knee);
    float t2 = t * t;
    float t3 = t2 * t;
    float mapped = (2.0 * t3 - 3.0 * t2 + 1.0) * knee + (t3 - 2.0 * t2 + t) * (1.0 - knee)
                 + (-2.0 * t3 + 3.0 * t2) * max_lum;
    return pq_eotf1(mapped * source_pq);
}

float hable_curve(float x) {
    return (x * (HABLE_A * x + HABLE_C * HABLE_B) + HABLE_D * HABLE_E)
         / (x * (HABLE_A * x + HABLE_B) + HABLE_D * HABLE_F) - HABLE_E / HABLE_F;
}

float hable(float nits) {
    float peak = max(u_source_peak / u_target_peak, 1.0);
    return u_target_peak * hable_curve(max(nits, 0.0) / u_target_peak) / hable_curve(peak);
}

float tone_curve(float nits) {
    if (u_curve == CURVE_BT2390) {
        return bt2390(nits);
    }
    if (u_curve == CURVE_HABLE) {
        return hable(nits);
    }
    return min(nits, u_target_peak);
}

vec3 map_color(vec3 code) {
    if (u_transfer == TRANSFER_NONE) {
        return code;
    }
    vec3 nits;
    if (u_transfer == TRANSFER_PQ) {
        nits = pq_eotf(code);
    } else if (u_transfer == TRANSFER_HLG) {
        vec3 scene = hlg_inverse_oetf(code);
        float ys = max(dot(scene, u_luma), 0.0);
        nits = u_source_peak * pow(ys, u_hlg_gamma - 1.0) * scene;
    } else {
        nits = u_target_peak * pow(clamp(code, 0.0, 1.0), vec3(SDR_GAMMA));
    }
    nits = u_gamut * nits;
    float signal = max(max(nits.r, nits.g), nits.b);
    if (signal > SIGNAL_FLOOR) {
        nits *= tone_curve(signal) / signal;
    }
    return pow(clamp(nits / u_target_peak, 0.0, 1.0), vec3(1.0 / SDR_GAMMA));
}
