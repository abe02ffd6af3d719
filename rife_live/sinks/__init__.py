"""rife_live.sinks"""
