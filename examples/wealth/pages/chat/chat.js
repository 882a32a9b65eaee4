const app = getApp()

Page({
  data: { question: '', messages: [], busy: false, error: '' },
  onInput(e) { this.setData({ question: e.detail.value }) },
  ask() {
    const question = this.data.question.trim()
    if (!question || this.data.busy) return
    const id = this.data.messages.length
    this.setData({ busy: true, error: '', question: '', messages: this.data.messages.concat([{ id, from: 'me', text: question }]) })
    // an ordinary wx.request: the host signs (and seals) it for the bank's AI service
    wx.request({
      url: `${app.globalData.api}/v1/chat`,
      method: 'POST',
      data: { question },
      success: (res) => {
        if (res.statusCode !== 200) {
          this.setData({ error: `The assistant is unavailable (${res.statusCode}).` })
          return
        }
        this.setData({ messages: this.data.messages.concat([{ id: id + 1, from: 'bot', text: res.data.answer }]) })
      },
      fail: (err) => this.setData({ error: err.errMsg }),
      complete: () => this.setData({ busy: false }),
    })
  },
})
