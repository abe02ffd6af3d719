"""rife_live.present"""
