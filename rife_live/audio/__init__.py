"""rife_live.audio"""
