"""rife_live.input"""
