"""player/osd.py: messages that expire, and the stats overlay refreshed on its period."""

from __future__ import annotations

from rife_live.colorinfo import ColorInfo
from rife_live.player.osd import OSD_MESSAGE_S, STATS_REFRESH_S, Osd, stats_lines
from rife_live.player.report import color_line


def test_stats_lines() -> None:
    lines = stats_lines({"input_fps": 25.0, "output_fps": 59.9, "target_fps": 60.0, "interpolated_pct": 80.0,
                         "misses": 3, "scale": 0.5, "scale_mode": "auto, max 1", "audio": True, "drift_ms": 4.0})
    assert "Input 25.0 fps" in lines[0] and "59.9" in lines[0] and "80% of shown" in lines[1]
    assert "misses 3" in lines[1] and "Scale 0.5 (auto, max 1)" in lines[2] and "+4 ms" in lines[-1]
    assert stats_lines({"audio": False})[-1] == "A/V: no audio"
    assert "Colour bt2020/pq 10-bit limited -> SDR BT.709 (bt.2390)" in stats_lines({"color": color_line(
        ColorInfo(primaries="bt2020", transfer="smpte2084", bit_depth=10), "bt.2390", window=True)})
    assert color_line(ColorInfo(), "hable", window=True) == "bt709/bt709 8-bit limited"
    assert color_line(ColorInfo(primaries="bt2020", bit_depth=10), "hable", window=True).endswith("-> BT.709")
    assert "->" not in color_line(ColorInfo(transfer="smpte2084"), "clip", window=False)  # --vo null maps nothing


def test_messages_expire_and_the_overlay_refreshes_on_its_period() -> None:
    osd = Osd()
    calls: list[int] = []

    def snapshot() -> dict[str, object]:
        calls.append(1)
        return {"misses": len(calls)}

    osd.message("Paused", 10.0)
    assert osd.lines(10.0, snapshot) == ("Paused",) and not calls
    assert osd.lines(10.0 + OSD_MESSAGE_S, snapshot) == ()
    osd.show_stats = True
    first = osd.lines(20.0, snapshot)
    assert "misses 1" in first[1]
    assert osd.lines(20.0 + STATS_REFRESH_S / 2, snapshot) == first  # not measured again yet
    assert "misses 2" in osd.lines(20.0 + STATS_REFRESH_S, snapshot)[1]
