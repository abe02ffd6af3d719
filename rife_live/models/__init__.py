"""rife_live.models"""
