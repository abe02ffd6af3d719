"""``python run_player.py movie.mkv --target-fps 60``: the design card's entry point; the same as
``rife-play`` (one call into the command line, no logic of its own)."""

import sys

from rife_live.cli import play_main

if __name__ == "__main__":
    sys.exit(play_main())
