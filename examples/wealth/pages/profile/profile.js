Page({
  data: { phoneCode: '', area: '', error: '' },
  onPhone(e) {
    // the button gives a one-time code, never the number; the assistant's server redeems it and
    // gets the form of the number the bank grants (masked, a relay number, or none)
    if (e.detail.code) this.setData({ phoneCode: e.detail.code, error: '' })
    else this.setData({ error: e.detail.errMsg })
  },
  locate() {
    wx.getLocation({
      type: 'wgs84',
      success: (r) => this.setData({ area: `${r.latitude.toFixed(3)}, ${r.longitude.toFixed(3)} (±${r.accuracy} m)`, error: '' }),
      fail: (err) => this.setData({ error: err.errMsg }),
    })
  },
})
